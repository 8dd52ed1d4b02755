#!/usr/bin/python3
"""An SMTP server for beacon's e-mail tests, on Debian's aiosmtpd (python3-aiosmtpd).

Usage: smtp_server.py <port> <cert> <key> [user password]
Listens on 127.0.0.1:<port> (0: a port of its own) with STARTTLS (the certificate and key of the
tests' CA); given a user and a password it requires AUTH (PLAIN or LOGIN, after STARTTLS) with
them. Prints "listening <port>", then one JSON line per message it accepts: {"from", "to",
"data"} (data: the message's text). Mail to an address at "@full.example" is refused with 552.
Serves until its standard input closes.
"""
import json
import socket
import ssl
import sys
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@full.example"):
            return "552 5.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        text = envelope.content.decode("utf-8", "replace")
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos, "data": text}), flush=True)
        return "250 Message accepted"


def main():
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd 1.4 warns of its own Session.login_data
    port = int(sys.argv[1])
    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    credentials = tuple(sys.argv[4:6]) if len(sys.argv) >= 6 else None

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = credentials is not None and (auth_data.login.decode(), auth_data.password.decode()) == credentials
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticate if credentials else None, auth_required=credentials is not None,
                            auth_require_tls=True)
    controller.start()
    print("listening", port, flush=True)
    sys.stdin.read()  # until the test closes our standard input
    controller.stop()


if __name__ == "__main__":
    main()
