//! hale-cli (skeleton; being built).
