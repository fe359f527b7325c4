"""What the training (Keras) and prediction (ONNX) networks share: constants, weight names and
shapes, the connectivity masks (random and block), the wide path, and the ONNX prediction graph
built from saved weights.

May import: numpy, onnx, ``diet_sparse.config``; never ``nlu``, ``dialogue`` or ``training``.
"""
