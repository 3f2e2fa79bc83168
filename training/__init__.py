"""Model-building package (synthetic corpus, pretraining, fine-tuning). Empty until the classifier issue."""
