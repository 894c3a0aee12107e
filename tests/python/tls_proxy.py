"""A TLS-terminating TCP proxy on loopback for the https:// tracking URI test (tests/it/tracking_remote_tls.rs).

argv: UPSTREAM (host:port of a plain-HTTP server) DIR. Makes a CA and a server certificate for
127.0.0.1 signed by it (the venv's `cryptography`), writes DIR/ca.pem, listens with TLS on a free
loopback port, prints `PORT <n>` and relays each connection to UPSTREAM until killed."""
import datetime
import ipaddress
import os
import socket
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

upstream, out_dir = sys.argv[1], sys.argv[2]
up_host, up_port = upstream.rsplit(":", 1)
now = datetime.datetime.now(datetime.timezone.utc)


def cert(subject, issuer, key, sign_key, ca):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                            critical=False)
    return b.sign(sign_key, hashes.SHA256())


ca_key, srv_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "homeml test CA")])
ca = cert(ca_name, ca_name, ca_key, ca_key, True)
srv = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, srv_key, ca_key, False)
pem = serialization.Encoding.PEM
with open(os.path.join(out_dir, "ca.pem"), "wb") as f:
    f.write(ca.public_bytes(pem))
with open(os.path.join(out_dir, "server.pem"), "wb") as f:
    f.write(srv.public_bytes(pem) + srv_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(out_dir, "server.pem"))


def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    try:
        tls = ctx.wrap_socket(client, server_side=True)
    except (ssl.SSLError, OSError):  # a client that refused our certificate
        client.close()
        return
    up = socket.create_connection((up_host, int(up_port)))
    threading.Thread(target=pipe, args=(up, tls), daemon=True).start()
    pipe(tls, up)


listener = socket.create_server(("127.0.0.1", 0))
print("PORT", listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
