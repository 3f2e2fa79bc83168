"""The layout model: data (synthetic reports printed by the scan simulator), the network, training, export, evaluation.

``python -m training.layout.train`` renders the training pages once into a cache under /tmp, trains the small
fully-convolutional net of ``training.layout.model`` and exports ``models/layout/model.onnx`` (read at run time by
``service.pages.layout_model``); ``python -m training.layout.evaluate`` measures it on the dev reports' scans.
"""
