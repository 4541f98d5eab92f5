"""The status page (``greplin.scales.flaskhandler``): served by the Rust status server.

``serveInBackground`` needs no Flask; ``registerStatsHandler`` mounts the page in an existing
Flask application when Flask is installed.
"""

from greplin.scales import _rs

_SERVERS = []


def serveInBackground(port, serverName, prefix='/status/', host='127.0.0.1'):
    """Serves the status page at ``http://host:port/status/`` from a background thread.

    Binds 127.0.0.1 unless ``host`` says otherwise (the original bound every interface).
    Port 0 picks a free port. Returns the server (``.port``, ``.stop()``).
    """
    del prefix  # the Rust server answers at /status/
    server = _rs.serve(int(port), str(serverName), host)
    _SERVERS.append(server)
    return server


def statsHandler(serverName, path=''):
    """The response body and content type for ``path`` (Flask request args give the format)."""
    from flask import request  # pylint: disable=import-outside-toplevel,import-error
    parts = [p for p in path.split('/') if p] if path else []
    statPath = '/' + '/'.join(parts)
    fmt = request.args.get('format')
    if fmt in ('json', 'prettyjson'):
        text = _rs.json_text(statPath, fmt == 'prettyjson')
        mime = 'application/json'
    else:
        text = _rs.html_text(statPath, serverName, request.args.get('query'), True)
        mime = 'text/html'
    if text is None:
        return 'No stats found with path %s' % statPath, 404, {'Content-Type': 'text/plain'}
    return text, 200, {'Content-Type': mime + '; charset=utf-8'}


def registerStatsHandler(app, serverName, prefix='/status/'):
    """Mounts the status page at ``prefix`` in the Flask application ``app``."""
    import functools  # pylint: disable=import-outside-toplevel
    if not prefix.endswith('/'):
        prefix += '/'
    handler = functools.partial(statsHandler, serverName)
    app.add_url_rule(prefix, 'statsHandler', handler, methods=['GET'])
    app.add_url_rule(prefix + '<path:path>', 'statsHandler', handler, methods=['GET'])
