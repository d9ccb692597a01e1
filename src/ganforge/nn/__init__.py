"""Building blocks shared by models (DESIGN.md §2: layers import torch only)."""
