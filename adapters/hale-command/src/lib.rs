//! hale-command (skeleton; being built).
