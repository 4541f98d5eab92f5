"""The status page as a Twisted Web resource (``greplin.scales.twistedweb``).

::

    root = twisted.web.resource.Resource()
    root.putChild(b'status', twistedweb.StatsResource('my-server'))

The path below the resource comes from ``request.postpath``, so it may be mounted at any
depth (the original assumed one level). Importing it without Twisted installed raises
ImportError.
"""

from greplin.scales import _web

try:
    from twisted.web import resource
except ImportError as error:
    raise _web.missing('twistedweb', 'twisted', error) from error


def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def _arg(request, name):
    args = getattr(request, 'args', None) or {}
    values = args.get(name.encode('ascii'), args.get(name))
    return _text(values[0]) if values else None


class StatsResource(resource.Resource):
    """Serves the page of the path below it (``?format=json``, ``prettyjson``, ``?query=``)."""

    isLeaf = True

    def __init__(self, serverName):
        resource.Resource.__init__(self)
        self.serverName = serverName

    def render_GET(self, request):  # pylint: disable=invalid-name
        """The page as bytes, JSON, or a 404 ``Path not found.``."""
        path = '/'.join(_text(p) for p in (request.postpath or []))
        status, mime, body = _web.render(self.serverName, path, _arg(request, 'format'),
                                         _arg(request, 'query'))
        request.setResponseCode(status)
        request.setHeader(b'content-type', mime.encode('ascii'))
        return body.encode('utf-8')
