//! Wire-name enums: the vocabulary of records and reasons, whose serde
//! names are the names the API, the audit log and the replay output use.

/// Declares a `snake_case` wire-name enum with `as_str` and `FromStr`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($name), " {:?}; expected one of: ", $($s, " "),+),
                        other
                    )),
                }
            }
        }
    };
}
pub(crate) use wire_enum;

/// Test support: `value` is spelled `name` everywhere it leaves the crate:
/// its `as_str` (passed in), its `Display` and its serde form.
#[cfg(test)]
pub(crate) fn assert_wire_name<T>(value: T, as_str: &str, name: &str)
where
    T: serde::Serialize + std::fmt::Display + std::fmt::Debug,
{
    assert_eq!(as_str, name, "as_str of {value:?}");
    assert_eq!(value.to_string(), name, "Display of {value:?}");
    assert_eq!(
        serde_json::to_value(&value).unwrap(),
        serde_json::Value::String(name.to_owned()),
        "serde of {value:?}"
    );
}
