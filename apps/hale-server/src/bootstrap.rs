//! First start without tokens: the private data directory and a generated
//! admin token.
//!
//! The token is 32 random bytes from the operating system's generator
//! (two v4 UUIDs, `getrandom` underneath), hex-encoded. Its plain text is
//! written once to `<data_dir>/admin.token` with mode 0600 inside a 0700
//! directory, and read back on later starts, so the token survives
//! restarts; only its hash is kept in memory. Nothing prints the token:
//! the banner points at the file.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The token file's name inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The data directory could not be prepared, or its token file is not
/// safe to trust.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A file system call failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What was being done.
        what: &'static str,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The token file exists but another user could have written or read
    /// it; the sentence names the fix.
    #[error("{path}: {why}")]
    Untrusted {
        /// The token file.
        path: String,
        /// What is wrong and what to do.
        why: String,
    },
}

fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> BootstrapError {
    let path = path.display().to_string();
    move |source| BootstrapError::Io { path, what, source }
}

/// Refuses a token file that is a symbolic link, is not owned by the user
/// the server runs as, or is open to group or others. A token another user
/// could write is a token they chose; one they could read is already
/// theirs. `euid` is the server's effective user id.
pub fn check_token_file(path: &Path, euid: u32) -> Result<(), BootstrapError> {
    let untrusted = |why: String| BootstrapError::Untrusted {
        path: path.display().to_string(),
        why,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io(path, "cannot read the token file"))?;
    if meta.file_type().is_symlink() {
        return Err(untrusted(
            "is a symbolic link; the admin token must be a regular file in the data directory. \
             Remove the link and restart to have a new token generated"
                .into(),
        ));
    }
    if !meta.is_file() {
        return Err(untrusted(
            "is not a regular file; remove it and restart".into(),
        ));
    }
    if meta.uid() != euid {
        return Err(untrusted(format!(
            "is owned by uid {}, not by the user the server runs as (uid {euid}), so another \
             user could have chosen this admin token. Delete it and restart to have a new one \
             generated, or chown it to uid {euid}",
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(untrusted(format!(
            "has mode {mode:04o}: group or other users may read or change the admin token. \
             Run chmod 600 on it, and consider deleting it to have a new token generated, \
             since it may have been read"
        )));
    }
    Ok(())
}

/// Creates the data directory (mode 0700) if it does not exist. An existing
/// directory is left as it is, with a warning if others may read it.
pub fn prepare_data_dir(dir: &Path) -> Result<(), BootstrapError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir, "cannot create the data directory"))?;
    let mode = std::fs::metadata(dir)
        .map_err(io(dir, "cannot read the data directory"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the data directory is readable by other users; chmod 700 it");
    }
    Ok(())
}

/// 32 random bytes from the OS generator, as 64 hex characters.
pub fn generate_token() -> String {
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(a.as_bytes());
    bytes[16..].copy_from_slice(b.as_bytes());
    hex::encode(bytes)
}

/// The admin token kept in the data directory.
pub struct AdminToken {
    /// The token (never printed or logged).
    pub token: String,
    /// Where it is stored.
    pub path: PathBuf,
    /// Whether this start created it.
    pub created: bool,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("path", &self.path)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Reads `<dir>/admin.token`, or creates it (mode 0600) with a new token.
/// An existing file is used only if [`check_token_file`] trusts it.
pub fn admin_token(dir: &Path) -> Result<AdminToken, BootstrapError> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    match std::fs::symlink_metadata(&path) {
        Ok(_) => check_token_file(&path, rustix::process::geteuid().as_raw())?,
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path, "cannot read the token file")(e)),
    }
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok(AdminToken {
                token: text.trim().to_owned(),
                path,
                created: false,
            });
        }
        Ok(_) => {
            // An empty file is useless; replace it.
            std::fs::remove_file(&path)
                .map_err(io(&path, "cannot replace the empty token file"))?;
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path, "cannot read the token file")(e)),
    }
    let token = generate_token();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path, "cannot create the token file"))?;
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(&path, "cannot write the token file"))?;
    Ok(AdminToken {
        token,
        path,
        created: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_private_and_survives_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        prepare_data_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let first = admin_token(&dir).unwrap();
        assert!(first.created);
        assert_eq!(first.token.len(), 64);
        assert!(first.token.bytes().all(|b| b.is_ascii_hexdigit()));
        let meta = std::fs::metadata(&first.path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let again = admin_token(&dir).unwrap();
        assert!(!again.created);
        assert_eq!(again.token, first.token);
        assert!(!format!("{again:?}").contains(&first.token));
    }

    #[test]
    fn a_token_file_open_to_others_or_owned_by_another_user_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        prepare_data_dir(&dir).unwrap();
        let first = admin_token(&dir).unwrap();
        let euid = rustix::process::geteuid().as_raw();

        for mode in [0o640, 0o604, 0o660, 0o644] {
            std::fs::set_permissions(&first.path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = admin_token(&dir).unwrap_err();
            assert!(
                matches!(&e, BootstrapError::Untrusted { why, .. } if why.contains("chmod 600")),
                "{mode:o}: {e}"
            );
        }
        std::fs::set_permissions(&first.path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(admin_token(&dir).is_ok());
        assert!(check_token_file(&first.path, euid).is_ok());

        // Ownership is compared with the server's user: the same file seen
        // by another uid is refused, naming both uids.
        let e = check_token_file(&first.path, euid.wrapping_add(1)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("owned by uid {euid}")), "{text}");
        assert!(text.contains("Delete it and restart"), "{text}");

        // A symbolic link to a file the server owns is refused too.
        let target = tmp.path().join("elsewhere");
        std::fs::rename(&first.path, &target).unwrap();
        std::os::unix::fs::symlink(&target, &first.path).unwrap();
        let e = admin_token(&dir).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!e.to_string().contains(&first.token));
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(generate_token(), generate_token());
    }
}
