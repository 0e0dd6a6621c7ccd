//! hale-postgres (skeleton; being built).
