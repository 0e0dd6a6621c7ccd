//! hale-kube (skeleton; being built).
