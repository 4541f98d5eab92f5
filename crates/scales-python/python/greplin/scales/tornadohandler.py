"""The status page in a Tornado application (``greplin.scales.tornadohandler``).

::

    app = tornado.web.Application([
        (r'/status(/.*)?', tornadohandler.StatsHandler, {'serverName': 'my-server'}),
    ])

Importing it without Tornado installed raises ImportError.
"""

from greplin.scales import _web

try:
    import tornado.web
except ImportError as error:
    raise _web.missing('tornadohandler', 'tornado', error) from error


class StatsHandler(tornado.web.RequestHandler):  # pylint: disable=abstract-method
    """Serves the page of the path its route's one group captured (``?format=json``,
    ``prettyjson``, ``?query=``)."""

    serverName = ''

    def initialize(self, serverName):  # pylint: disable=arguments-differ
        """Takes the server name shown on the page (the route's third element)."""
        self.serverName = serverName

    def get(self, path=None):  # pylint: disable=arguments-differ
        """The page, JSON or a 404 ``Path not found.``."""
        status, mime, body = _web.render(self.serverName, path,
                                         self.get_argument('format', None),
                                         self.get_argument('query', None))
        self.set_status(status)
        self.set_header('Content-Type', mime)
        self.write(body)
