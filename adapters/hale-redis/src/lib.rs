//! hale-redis (skeleton; being built).
