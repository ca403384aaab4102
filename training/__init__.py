"""The demo model's recipe: corpus, espeak-ng synthesis, training, metrics, and the helpers tests and
benches use to make speech and random hub-layout checkpoints. Not shipped in the wheel; run from a
checkout as ``python -m training.train``."""
