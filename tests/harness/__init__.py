"""Test harness: provisions reference implementations (ComfyUI 0.3.75) into ignored folders."""
