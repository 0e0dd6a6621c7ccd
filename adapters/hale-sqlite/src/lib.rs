//! hale-sqlite (skeleton; being built).
