"""A local SMTP sink for benchmarks: accepts every message and throws it away, counting them.

Python 3.11's smtpd is enough for a loopback sink; usage: python3 bench/smtp_sink.py PORT
"""
import asyncore
import smtpd
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)


class Sink(smtpd.SMTPServer):
    received = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.received += 1
        return None


if __name__ == "__main__":
    port = int(sys.argv[1])
    Sink(("127.0.0.1", port), None, decode_data=False)
    try:
        asyncore.loop(timeout=0.5)
    except KeyboardInterrupt:
        pass
