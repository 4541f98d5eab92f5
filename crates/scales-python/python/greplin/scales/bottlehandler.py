"""The status page in a Bottle application (``greplin.scales.bottlehandler``).

::

    app = bottle.Bottle()
    bottlehandler.register_stats_handler(app, 'my-server')   # at /status/

Importing it without Bottle installed raises ImportError.
"""

import functools

from greplin.scales import _web

try:
    import bottle
except ImportError as error:
    raise _web.missing('bottlehandler', 'bottle', error) from error


def bottlestats(server_name, path=''):
    """The route's callback: the page of ``path`` (``?format=json``, ``prettyjson``,
    ``?query=``), or a 404."""
    query = bottle.request.query
    status, mime, body = _web.render(server_name, path, query.getunicode('format'),
                                     query.getunicode('query'))
    if status == 404:
        bottle.abort(404, 'Not Found')
    bottle.response.content_type = mime
    return body


def register_stats_handler(app, server_name, prefix='/status/'):
    """Mounts the page at ``prefix`` (and the paths below it) in the Bottle app ``app``."""
    if not prefix.endswith('/'):
        prefix += '/'
    handler = functools.partial(bottlestats, server_name)
    app.route(prefix, 'GET', handler)
    app.route(prefix + '<path:path>', 'GET', handler)
