"""The tornado, bottle and twisted handlers: the status page mounted in each framework's app
(bottle and tornado when installed; twisted with Debian's python3-twisted when present, and
with a stand-in Resource otherwise), and a clear ImportError without the framework."""

import asyncio
import importlib
import io
import json
import os
import subprocess
import sys
import types
import wsgiref.util

import pytest

from greplin import scales
from greplin.scales import _web

PACKAGE_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'python')


def _tree():
    stats = scales.collection('/web', scales.IntStat('success'), scales.PmfStat('latency'))
    stats.success += 3
    stats.latency = 0.25
    return stats


def _fresh_import(monkeypatch, name, missing=()):
    """Imports greplin.scales.<name> anew, with the modules in ``missing`` unimportable."""
    for mod in missing:
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.delitem(sys.modules, 'greplin.scales.' + name, raising=False)
    return importlib.import_module('greplin.scales.' + name)


@pytest.mark.parametrize('name, framework', [
    ('tornadohandler', 'tornado'), ('bottlehandler', 'bottle'), ('twistedweb', 'twisted')])
def test_clear_import_error_without_the_framework(monkeypatch, name, framework):
    missing = [framework, framework + '.web', 'twisted.web.resource']
    with pytest.raises(ImportError) as info:
        _fresh_import(monkeypatch, name, missing)
    message = str(info.value)
    assert 'greplin.scales.%s needs %s' % (name, framework) in message
    assert 'pip install %s' % framework in message
    assert 'greplin.scales.' + name not in sys.modules


def test_render_logic():
    stats = _tree()
    status, mime, body = _web.render('srv', '/web/', 'json')
    assert (status, mime) == (200, 'application/json; charset=utf-8')
    assert json.loads(body)['success'] == 3
    status, mime, body = _web.render('srv', None, 'prettyjson')
    assert status == 200 and '\n  "web": {' in body
    status, mime, body = _web.render('srv', '/web', None, 'success')
    assert (status, mime) == (200, 'text/html; charset=utf-8')
    assert 'srv - Status' in body and 'success' in body
    status, _, body = _web.render('srv', '/web', 'json', 'success>2')
    assert json.loads(body) == {'success': 3}
    assert _web.render('srv', '/nope', 'json') == (404, 'text/plain; charset=utf-8', 'Path not found.')
    del stats


# -- bottle -------------------------------------------------------------------------------


def _wsgi_get(app, url):
    path, _, query = url.partition('?')
    environ = {'PATH_INFO': path, 'QUERY_STRING': query, 'REQUEST_METHOD': 'GET'}
    wsgiref.util.setup_testing_defaults(environ)
    environ['wsgi.errors'] = io.StringIO()
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = int(status.split()[0])
        out['headers'] = dict(headers)

    body = b''.join(app(environ, start_response))
    return out['status'], out['headers'].get('Content-Type'), body.decode('utf-8')


def test_bottle_app():
    bottle = pytest.importorskip('bottle')
    from greplin.scales import bottlehandler
    stats = _tree()
    app = bottle.Bottle()
    bottlehandler.register_stats_handler(app, 'bottle-srv')
    status, mime, body = _wsgi_get(app, '/status/?format=json')
    assert (status, mime) == (200, 'application/json; charset=utf-8')
    assert json.loads(body)['web']['success'] == 3
    status, mime, body = _wsgi_get(app, '/status/web/latency?format=json')
    assert status == 200 and json.loads(body)['count'] == 1
    status, mime, body = _wsgi_get(app, '/status/web')
    assert (status, mime) == (200, 'text/html; charset=utf-8')
    assert '<title>bottle-srv - Status: /web</title>' in body
    status, _, body = _wsgi_get(app, '/status/nope')
    assert status == 404 and 'Not Found' in body
    assert _wsgi_get(app, '/status')[0] == 404  # as the original: the prefix ends in /
    other = bottle.Bottle()
    bottlehandler.register_stats_handler(other, 'x', prefix='/stats')
    assert _wsgi_get(other, '/stats/web?format=json')[0] == 200
    del stats


# -- tornado ------------------------------------------------------------------------------


def test_tornado_app():
    pytest.importorskip('tornado')
    import tornado.httpclient
    import tornado.httpserver
    import tornado.netutil
    import tornado.web
    from greplin.scales import tornadohandler
    stats = _tree()

    async def run():
        app = tornado.web.Application([
            (r'/status(/.*)?', tornadohandler.StatsHandler, {'serverName': 'tornado-srv'})])
        sockets = tornado.netutil.bind_sockets(0, '127.0.0.1')
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        client = tornado.httpclient.AsyncHTTPClient()
        results = {}
        try:
            for url in ('/status', '/status/', '/status/web?format=json', '/status/web/',
                        '/status/nope', '/status/?query=success'):
                response = await client.fetch('http://127.0.0.1:%d%s' % (port, url), raise_error=False)
                results[url] = (response.code, response.headers.get('Content-Type'),
                                response.body.decode('utf-8'))
        finally:
            server.stop()
            client.close()
        return results

    results = asyncio.run(run())
    assert results['/status'][0] == 200 and 'tornado-srv - Status' in results['/status'][2]
    assert results['/status/'][0] == 200
    code, mime, body = results['/status/web?format=json']
    assert (code, mime) == (200, 'application/json; charset=utf-8')
    assert json.loads(body)['success'] == 3
    assert results['/status/web/'][0] == 200  # the original: 404
    assert results['/status/nope'][0] == 404 and results['/status/nope'][2] == 'Path not found.'
    assert 'success' in results['/status/?query=success'][2]
    del stats


# -- twisted ------------------------------------------------------------------------------


class _FakeRequest(object):
    def __init__(self, postpath, args=None):
        self.postpath = postpath
        self.args = args or {}
        self.code = 200
        self.headers = {}

    def setResponseCode(self, code):
        self.code = code

    def setHeader(self, name, value):
        self.headers[name] = value


def test_twisted_resource_logic_with_a_stand_in(monkeypatch):
    # twisted.web.resource.Resource replaced by a stand-in: the module's own logic only.
    twisted = types.ModuleType('twisted')
    web = types.ModuleType('twisted.web')
    resource = types.ModuleType('twisted.web.resource')

    class Resource(object):
        def __init__(self):
            self.children = {}

    resource.Resource = Resource
    twisted.web, web.resource = web, resource
    for name, mod in (('twisted', twisted), ('twisted.web', web), ('twisted.web.resource', resource)):
        monkeypatch.setitem(sys.modules, name, mod)
    module = _fresh_import(monkeypatch, 'twistedweb')
    stats = _tree()
    res = module.StatsResource('tw-srv')
    assert res.isLeaf and isinstance(res, Resource)
    request = _FakeRequest([b'web'], {b'format': [b'json']})
    body = res.render_GET(request)
    assert isinstance(body, bytes) and json.loads(body)['success'] == 3
    assert request.headers[b'content-type'] == b'application/json; charset=utf-8'
    request = _FakeRequest([b''])
    assert b'tw-srv - Status' in res.render_GET(request) and request.code == 200
    request = _FakeRequest([b'web', b'nope'])
    assert res.render_GET(request) == b'Path not found.' and request.code == 404
    del stats
    monkeypatch.delitem(sys.modules, 'greplin.scales.twistedweb')


TWISTED_SCRIPT = r'''
import json, sys
from twisted.internet import reactor
from twisted.web import client, resource, server
from greplin import scales
from greplin.scales import twistedweb

stats = scales.collection('/web', scales.IntStat('success'))
stats.success += 5
root = resource.Resource()
deep = resource.Resource()
root.putChild(b'admin', deep)
deep.putChild(b'status', twistedweb.StatsResource('tw-real'))  # two levels deep
port = reactor.listenTCP(0, server.Site(root), interface='127.0.0.1')
base = 'http://127.0.0.1:%d/admin/status' % port.getHost().port
out = {}

def get(path):
    agent = client.Agent(reactor)
    d = agent.request(b'GET', (base + path).encode())
    def body(response):
        return client.readBody(response).addCallback(
            lambda b: (response.code, response.headers.getRawHeaders(b'content-type')[0].decode(), b.decode()))
    return d.addCallback(body)

def run():
    d = get('/web?format=json')
    d.addCallback(lambda r: out.__setitem__('json', r))
    d.addCallback(lambda _: get('/'))
    d.addCallback(lambda r: out.__setitem__('html', r))
    d.addCallback(lambda _: get('/nope'))
    d.addCallback(lambda r: out.__setitem__('missing', r))
    d.addBoth(lambda r: (out.__setitem__('error', repr(r)) if hasattr(r, 'getTraceback') else None, reactor.stop()))

reactor.callWhenRunning(run)
reactor.callLater(20, reactor.stop)
reactor.run()
print(json.dumps(out))
'''


def _python_with_twisted():
    """An interpreter that has Twisted: this one (scripts/python-tests.sh installs it from
    PyPI), else Debian's python3 with python3-twisted."""
    for python in (sys.executable, '/usr/bin/python3'):
        try:
            subprocess.run([python, '-c', 'import twisted.web'], check=True, capture_output=True)
            return python
        except (OSError, subprocess.CalledProcessError):
            pass
    return None


@pytest.mark.skipif(_python_with_twisted() is None, reason="needs Twisted (pip install twisted)")
def test_twisted_resource_served_by_real_twisted():
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    out = subprocess.run([_python_with_twisted(), '-c', TWISTED_SCRIPT], check=True, capture_output=True,
                         text=True, env=env, timeout=60).stdout
    results = json.loads(out.strip().splitlines()[-1])
    assert 'error' not in results, results
    code, mime, body = results['json']
    assert (code, mime) == (200, 'application/json; charset=utf-8') and json.loads(body)['success'] == 5
    code, mime, body = results['html']
    assert code == 200 and 'tw-real - Status' in body
    assert results['missing'][0] == 404 and results['missing'][2] == 'Path not found.'
