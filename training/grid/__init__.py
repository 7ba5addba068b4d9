"""The checkpoint grid: render checkpoints x prompts x strengths x seeds (``render``), and
rank the checkpoints by identity, prompt obedience and overfitting (``rank``)."""
