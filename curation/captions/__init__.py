"""Captions: identity lint, identity stripper / formatter, trigger checker.

``clean_caption`` is the stripper's entry point; ``lint_caption`` / ``lint_dataset`` the lint
engine's; ``check_trigger`` the trigger checker's. No Qt, no torch.
"""

from curation.captions.stripper import CleanedCaption, Removal, clean_caption

__all__ = ["CleanedCaption", "Removal", "clean_caption"]
