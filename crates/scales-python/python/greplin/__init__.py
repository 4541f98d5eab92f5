"""The ``greplin`` namespace (as in the original package, which declared it with pkg_resources)."""
__path__ = __import__("pkgutil").extend_path(__path__, __name__)
