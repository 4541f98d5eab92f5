"""What the tornado, bottle and twisted handlers share: the status page of a path."""

import json

from greplin.scales import _rs


def statPath(path):
    """``'/web/'``, ``'web'`` or ``None`` as the registry path ``'/web'`` (``'/'`` for the root)."""
    parts = [p for p in (path or '').split('/') if p]
    return '/' + '/'.join(parts)


def render(serverName, path, fmt=None, query=None, notFound='Path not found.'):
    """``(status, content type, body)`` of the status page at ``path``.

    ``fmt`` is ``json``, ``prettyjson`` or anything else for HTML; ``query`` filters as
    ``?query=`` does (``formats.runQuery``).
    """
    where = statPath(path)
    if fmt in ('json', 'prettyjson'):
        pretty = fmt == 'prettyjson'
        text = _rs.json_text(where, pretty)
        if text is not None and query:
            from greplin.scales import formats  # pylint: disable=import-outside-toplevel
            data = json.loads(text)
            if isinstance(data, dict):
                data = formats.runQuery(data, query)
            text = json.dumps(data, indent=2 if pretty else None) + '\n'
        mime = 'application/json'
    else:
        text = _rs.html_text(where, str(serverName), query or None, True)
        mime = 'text/html'
    if text is None:
        return 404, 'text/plain; charset=utf-8', notFound
    return 200, mime + '; charset=utf-8', text


def missing(module, framework, error):
    """The ImportError a handler module raises when its framework is not installed."""
    return ImportError('greplin.scales.%s needs %s, which is not installed (pip install %s): %s'
                       % (module, framework, framework, error))
