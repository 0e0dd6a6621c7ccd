//! hale-fake-kube (skeleton; being built).
