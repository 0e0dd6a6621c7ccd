//! hale-server (skeleton; being built).
