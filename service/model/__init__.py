"""The model core: the shipped model object, `classify_articles`, the paragraph splitter, the
paragraph-to-article rule and the model's load/verify/swap lifecycle.

Training, the HTTP API and the bulk command all import it; it imports none of them.
"""
