"""Measuring models: NLU and dialogue evaluation reports, density sweeps, and their plots.
Training (and so TensorFlow) is imported only inside the functions that train.
"""
