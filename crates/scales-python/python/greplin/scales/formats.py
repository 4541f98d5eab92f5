"""Output formats (``greplin.scales.formats``): JSON and HTML as the Rust library writes them.

With no ``statDict`` they render the registry through the Rust core; a plain dict passed
as ``statDict`` is rendered here, in the same shapes (escaped HTML, no NaN in JSON).
"""

import html
import json
import math
import operator
import re

from greplin import scales
from greplin.scales import _rs, util

OPERATORS = {
    '>=': operator.ge,
    '<=': operator.le,
    '==': operator.eq,
    '!=': operator.ne,
    '>': operator.gt,
    '<': operator.lt,
    '=': operator.eq,
}
# Two-character operators first, so that `<=` and `==` parse (the original's bug).
OPERATOR = re.compile('(' + '|'.join(re.escape(k) for k in OPERATORS) + ')')


def _clean(obj):
    """NaN and infinities become null (valid JSON); gauges are called."""
    if callable(obj) and not hasattr(obj, 'keys'):
        obj = obj()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if hasattr(obj, 'keys'):
        return dict((str(k), _clean(obj[k])) for k in obj.keys())
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _utf8str(x):
    """``x`` as text: ``str(x)``, and bytes read as UTF-8 (bytes that are not UTF-8 as
    U+FFFD)."""
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode('utf-8', 'replace')
    return str(x)


def runQuery(statDict, query):
    """Keeps the entries (at any depth) whose key is ``query``, or that compare true."""
    parts = [s.strip() for s in OPERATOR.split(query)]
    assert len(parts) in (1, 3)
    queryKey = parts[0]
    result = {}
    for key, value in statDict.items():
        if key == queryKey:
            if len(parts) == 3:
                op = OPERATORS[parts[1]]
                try:
                    rhs = type(value)(parts[2]) if not isinstance(value, str) else parts[2]
                    if op(value, rhs):
                        result[key] = value
                except (ValueError, TypeError):
                    pass
            else:
                result[key] = value
        elif isinstance(value, dict):
            sub = runQuery(value, query)
            if sub:
                result[key] = sub
    return result


def jsonFormat(output, statDict=None, query=None, pretty=False):
    """Writes JSON of ``statDict`` (the whole registry when None) and a newline to ``output``."""
    if statDict is None and query is None:
        text = _rs.json_text(None, pretty) or '{}'
        output.write(text if text.endswith('\n') else text + '\n')
        return
    if statDict is None:
        statDict = scales.getStats()
    data = _clean(statDict)
    if query:
        data = runQuery(data, query)
    output.write(json.dumps(data, indent=2 if pretty else None, allow_nan=False) + '\n')


def htmlHeader(output, path, serverName, query=None):
    """Writes the page header (title, style, heading, filter form), every value escaped."""
    esc = html.escape
    if path and path != '/':
        title = '%s - Status: %s' % (serverName, path)
    else:
        title = '%s - Status' % serverName
    output.write('<title>%s</title>\n' % esc(title, quote=False))
    output.write(
        '<style>\n'
        'body,td { font-family: monospace }\n'
        '.level div {\n  padding-bottom: 4px;\n}\n'
        '.level .level {\n  margin-left: 2em;\n  padding: 1px 0;\n}\n'
        'span { color: #090; vertical-align: top }\n'
        '.key { color: black; font-weight: bold }\n'
        '.int, .float { color: #00c }\n'
        '</style>\n')
    output.write(
        '  <h1 style="margin: 0">Stats</h1><h3 style="margin: 3px 0 18px">%s</h3>'
        '<p><form action="#" method="GET">Filter: <input type="text" name="query" size="20" '
        'value="%s"></form></p>' % (esc(serverName, quote=False), esc(query or '')))


def _typeName(value):
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, float):
        return 'float'
    if value is None:
        return 'NoneType'
    return 'str'


def _htmlRender(output, statDict, pathParts):
    output.write('<div class="level">')
    for key in sorted(statDict.keys(), key=str):
        value = statDict[key]
        if callable(value) and not hasattr(value, 'keys'):
            value = value()
        keyStr = html.escape(str(key), quote=False)
        if hasattr(value, 'keys'):
            output.write('<div class="key">%s</div>' % keyStr)
            _htmlRender(output, value, pathParts + (str(key),))
        else:
            text = html.escape(str(value), quote=False).replace('\n', '<br/>')
            output.write('<div><span class="key">%s</span> <span class="%s">%s</span></div>'
                         % (keyStr, _typeName(value), text))
    output.write('</div>')


def htmlFormat(output, pathParts=(), statDict=None, query=None):
    """Writes the HTML tree of ``statDict`` (the registry's node at ``pathParts`` when None)."""
    if statDict is None and not query:
        path = '/' + '/'.join(pathParts)
        text = _rs.html_text(path, '', None, False)
        output.write(text or '')
        return
    if statDict is None:
        statDict = util.lookup(scales.getStats(), pathParts, {})
    data = _clean(statDict)
    if query:
        data = runQuery(data, query)
    _htmlRender(output, data, tuple(pathParts))
