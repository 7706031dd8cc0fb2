"""Where things live and what is set up: data, weights and pretrained networks, models, the result
cache, profiles and the session. The ground floor: imports nothing else from lrkit."""

__version__ = "0.1.0"
