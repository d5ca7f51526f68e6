"""Input formats. Each module defines Loader subclasses; the registry discovers them."""
