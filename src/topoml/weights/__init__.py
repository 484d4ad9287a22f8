"""Pretrained weights shipped with topoml (safetensors; see README for their accuracy)."""
