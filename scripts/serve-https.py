#!/usr/bin/env python3
"""Serves a directory over HTTPS on 127.0.0.1 (a free port) for make demo.
Prints "serving on URL" when ready; stops on SIGTERM.
Usage: serve-https.py DIR CERT KEY"""
import functools, http.server, signal, ssl, sys

d, cert, key = sys.argv[1:4]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=d))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("serving on https://127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
