"""Quality and diversity metrics of generated samples (pure functions of tensors and arrays)."""
