#!/usr/bin/env python3
"""A client app of emailauth in Python, with the standard library only.

It logs a person in the way a server-side client app does, over the public JSON API (the
Connect protocol: POST /emailauth.auth.v1.AuthService/<Method>, JSON in and out):

  1. StartLogin: the service emails the person a one-time code;
  2. the person types the code (here: read from the development inbox of `npm start`);
  3. VerifyLogin: the person's user id and a session (access token + refresh token);
  4. the access token (a JWT signed with Ed25519) verified offline against the gateway's JWKS:
     signature, issuer, audience (your app id) and expiry;
  5. RefreshSession: a new pair, the old refresh token spent.

Run it against `npm start` (it prints the gateway, the inbox, the app id and its API key):

  EMAILAUTH_URL=http://127.0.0.1:8080 EMAILAUTH_API_KEY=eak_... EMAILAUTH_APP_ID=app_... \\
  EMAILAUTH_INBOX_URL=http://127.0.0.1:9102/inbox python3 emailauth_example.py jane@example.com

EMAILAUTH_ISSUER is the `iss` your gateway signs with (its JWT_ISSUER); it defaults to
EMAILAUTH_URL, which is right for `npm start` but not behind a proxy or another host name.

Errors come back as {"code": ..., "message": ..., "details": [...]}; the stable reason is in
the emailauth.common.v1.ErrorDetail detail (its "debug" field, in JSON): see `reason_of`.
The full contract is served at <gateway>/openapi.json.
"""

import base64
import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from email.utils import getaddresses

SERVICE = "emailauth.auth.v1.AuthService"


class EmailAuthError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        self.reason = reason_of(body)
        super().__init__(f"{status} {body.get('code')}: {body.get('message')} ({self.reason})")


def reason_of(body):
    """The stable reason of a Connect error body ("CODE_INVALID", "RATE_LIMITED"...)."""
    for detail in body.get("details", []):
        if detail.get("type") == "emailauth.common.v1.ErrorDetail":
            return detail.get("debug", {}).get("reason")
    return None


def call(base_url, api_key, method, request):
    req = urllib.request.Request(
        f"{base_url}/{SERVICE}/{method}",
        data=json.dumps(request).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {api_key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.load(res)
    except urllib.error.HTTPError as err:
        raise EmailAuthError(err.code, json.load(err)) from None


def inbox_ids(inbox_url):
    """The ids of the emails in the development inbox now (to wait for a newer one)."""
    with urllib.request.urlopen(f"{inbox_url}/messages", timeout=10) as res:
        return {message["id"] for message in json.load(res)}


def code_from_inbox(inbox_url, email, seen=frozenset(), timeout_s=20):
    """The code in the newest development-inbox email to exactly `email` that is not in `seen`
    (development only)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{inbox_url}/messages", timeout=10) as res:
            for message in json.load(res):  # newest first
                field = message["to"] if isinstance(message["to"], list) else [message["to"]]
                to = [address.lower() for _, address in getaddresses(field)]
                if message["id"] not in seen and email.lower() in to:
                    match = re.search(r"\b(\d{6})\b", message["text"])
                    if match:
                        return match.group(1)
        time.sleep(0.2)
    raise TimeoutError(f"no new email to {email} in {inbox_url}")


# --- Ed25519 verification (RFC 8032, section 6: the reference implementation) --------------
# Python's standard library has no Ed25519; a production app would use `cryptography` or PyJWT.
_p = 2**255 - 19
_d = -121665 * pow(121666, _p - 2, _p) % _p
_q = 2**252 + 27742317777372353535851937790883648493
_sqrt_m1 = pow(2, (_p - 1) // 4, _p)


def _add(P, Q):
    A = (P[1] - P[0]) * (Q[1] - Q[0]) % _p
    B = (P[1] + P[0]) * (Q[1] + Q[0]) % _p
    C = 2 * P[3] * Q[3] * _d % _p
    D = 2 * P[2] * Q[2] % _p
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F, G * H, F * G, E * H)


def _mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _add(Q, P)
        P = _add(P, P)
        s >>= 1
    return Q


def _equal(P, Q):
    return (P[0] * Q[2] - Q[0] * P[2]) % _p == 0 and (P[1] * Q[2] - Q[1] * P[2]) % _p == 0


def _recover_x(y, sign):
    if y >= _p:
        return None
    x2 = (y * y - 1) * pow(_d * y * y + 1, _p - 2, _p)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_p + 3) // 8, _p)
    if (x * x - x2) % _p != 0:
        x = x * _sqrt_m1 % _p
    if (x * x - x2) % _p != 0:
        return None
    if (x & 1) != sign:
        x = _p - x
    return x


_gy = 4 * pow(5, _p - 2, _p) % _p
_gx = _recover_x(_gy, 0)
_G = (_gx, _gy, 1, _gx * _gy % _p)


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _p)


def ed25519_verify(public_key, message, signature):
    if len(public_key) != 32 or len(signature) != 64:
        return False
    A = _decompress(public_key)
    R = _decompress(signature[:32])
    if A is None or R is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _q
    return _equal(_mul(s, _G), _add(R, _mul(h, A)))


# --- Access tokens ------------------------------------------------------------------------
def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_access_token(token, jwks, issuer, audience, now=None):
    """The token's claims if it is valid for your app; raises ValueError otherwise."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(_b64url(header_b64))
    if header.get("alg") != "EdDSA":
        raise ValueError("unexpected alg")
    key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if key is None or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        raise ValueError("unknown signing key (refetch the JWKS once, then refuse)")
    signed = f"{header_b64}.{payload_b64}".encode()
    if not ed25519_verify(_b64url(key["x"]), signed, _b64url(signature_b64)):
        raise ValueError("bad signature")
    claims = json.loads(_b64url(payload_b64))
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise ValueError("wrong issuer")
    if claims.get("aud") != audience:
        raise ValueError("wrong audience: a token for another app")
    if not claims.get("exp") or claims["exp"] <= now:
        raise ValueError("expired")
    return claims


def main():
    base_url = os.environ.get("EMAILAUTH_URL", "http://127.0.0.1:8080").rstrip("/")
    api_key = os.environ["EMAILAUTH_API_KEY"]
    app_id = os.environ["EMAILAUTH_APP_ID"]
    issuer = os.environ.get("EMAILAUTH_ISSUER", base_url)
    inbox_url = os.environ.get("EMAILAUTH_INBOX_URL", "http://127.0.0.1:9102/inbox").rstrip("/")
    email = sys.argv[1] if len(sys.argv) > 1 else "jane@example.com"

    seen = inbox_ids(inbox_url)  # an earlier run's email to the same address is not this one
    started = call(base_url, api_key, "StartLogin", {"email": email, "locale": "en"})
    print(json.dumps({"step": "StartLogin", "challengeId": started["challengeId"]}))

    try:
        call(base_url, api_key, "VerifyLogin", {"challengeId": started["challengeId"], "code": "000000"})
    except EmailAuthError as err:
        print(json.dumps({"step": "VerifyLogin (wrong code)", "status": err.status, "reason": err.reason}))

    code = code_from_inbox(inbox_url, email, seen)
    session = call(base_url, api_key, "VerifyLogin", {"challengeId": started["challengeId"], "code": code})
    print(json.dumps({"step": "VerifyLogin", "userId": session["user"]["id"], "sessionId": session["sessionId"]}))

    with urllib.request.urlopen(f"{base_url}/.well-known/jwks.json", timeout=10) as res:
        jwks = json.load(res)
    claims = verify_access_token(session["accessToken"], jwks, issuer, app_id)
    print(json.dumps({"step": "access token verified", "sub": claims["sub"], "sid": claims["sid"]}))

    refreshed = call(base_url, api_key, "RefreshSession", {"refreshToken": session["refreshToken"]})
    verify_access_token(refreshed["accessToken"], jwks, issuer, app_id)
    print(json.dumps({"step": "RefreshSession", "sessionId": refreshed["sessionId"]}))

    try:
        call(base_url, api_key, "RefreshSession", {"refreshToken": session["refreshToken"]})
    except EmailAuthError as err:
        print(json.dumps({"step": "RefreshSession (reused token)", "status": err.status, "reason": err.reason}))


if __name__ == "__main__":
    main()
