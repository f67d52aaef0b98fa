"""tixcli.redact: each kind of secret redacted and counted, ordinary text left alone, linear time on
hostile input; log_tail reading the end of a (large) log in bounded memory."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc

import pytest

from tixcli.errors import ExitStatus, InvalidInputError
from tixcli.redact import MARKER, log_tail, redact

GITHUB_PAT = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
FINE_GRAINED_PAT = "github_pat_11ABCDEFG0abcdefghijkl_" + "m" * 59
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
SLACK_BOT = "xoxb-123456789012-1234567890123-abcdefgh"
RSA_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "aNRa7B0sFHb3l0EwO9VGoYqGZgR2hJkFzP0qQ1bqYd6o5Y3wqJzq7Tq4y6aGjw==\n"
    "-----END RSA PRIVATE KEY-----"
)


# -- each pattern, redacted and counted -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret, expected",
    [
        ("> Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "> Authorization: [REDACTED]"),
        ("Authorization: Bearer abc.def-123", "abc.def-123", "Authorization: [REDACTED]"),
        ("curl -H 'authorization: token s3cr3tvalue' x", "s3cr3tvalue", "curl -H 'authorization: [REDACTED]' x"),
        ('{"Authorization": "Bearer zzz999"}', "zzz999", '{"Authorization": "[REDACTED]"}'),
        ("Proxy-Authorization: Basic Zm9vOmJhcg==", "Zm9vOmJhcg==", "Proxy-Authorization: [REDACTED]"),
        ("sent Bearer 0123456789abcdef to the API", "0123456789abcdef", "sent Bearer [REDACTED] to the API"),
        ("password=hunter2 user=bob", "hunter2", "password=[REDACTED] user=bob"),
        ("DB_PASSWORD='c0rrect horse'", "c0rrect horse", "DB_PASSWORD='[REDACTED]'"),
        ("?access_token=abc123def&page=2", "abc123def", "?access_token=[REDACTED]&page=2"),
        ("client_secret: sh-h-h-h", "sh-h-h-h", "client_secret: [REDACTED]"),
        ('{"password": "p@ss\\"word", "user": "bob"}', 'p@ss\\"word', '{"password": "[REDACTED]", "user": "bob"}'),
        ("{'api_key': 'k-12345'}", "k-12345", "{'api_key': '[REDACTED]'}"),
        ('log {\\"token\\": \\"t0k3n\\"}', "t0k3n", 'log {\\"token\\": \\"[REDACTED]\\"}'),
        ("Token: abcdef", "abcdef", "Token: [REDACTED]"),
        ("X-Api-Key: 0f1e2d3c", "0f1e2d3c", "X-Api-Key: [REDACTED]"),
        ("mysql --password=topsecret -u root", "topsecret", "mysql --password=[REDACTED] -u root"),
        ("<password>xml-secret</password>", "xml-secret", "<password>[REDACTED]</password>"),
        (
            "git clone https://x-access-token:abc123@github.com/acme/shop",
            "abc123",
            "git clone https://x-access-token:[REDACTED]@github.com/acme/shop",
        ),
        ("postgres://app:p@ss:w0rd@db:5432/app", "p@ss:w0rd", "postgres://app:[REDACTED]@db:5432/app"),
        (f"push with {GITHUB_PAT}", GITHUB_PAT, "push with [REDACTED]"),
        ("gho_" + "x" * 36, "gho_" + "x" * 36, MARKER),
        ("ghs_" + "Y" * 36 + " used", "ghs_" + "Y" * 36, "[REDACTED] used"),
        ("ghu_" + "1" * 36, "ghu_" + "1" * 36, MARKER),
        ("ghr_" + "z" * 76, "ghr_" + "z" * 76, MARKER),
        (FINE_GRAINED_PAT, FINE_GRAINED_PAT, MARKER),
        ("GITLAB=glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789", "GITLAB=[REDACTED]"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", "aws [REDACTED] here"),
        ("ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", MARKER),
        (f"slack {SLACK_BOT}", SLACK_BOT, "slack [REDACTED]"),
        ("xoxp-1234-5678-abcdefghij", "xoxp-1234-5678-abcdefghij", MARKER),
        (
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/[REDACTED]",
        ),
        (f"id_token={JWT}", JWT, "id_token=[REDACTED]"),
        (f"jwt {JWT} ok", JWT, "jwt [REDACTED] ok"),
        ("npm_" + "A1b2" * 9, "npm_" + "A1b2" * 9, MARKER),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", MARKER),
    ],
)
def test_each_pattern_is_redacted_and_counted(text, secret, expected):
    result = redact(text, env={})
    assert result.text == expected
    assert secret not in result.text
    assert result.count == 1


@pytest.mark.parametrize(
    "text",
    [
        "the token bucket refills every second",
        "a password reset link was sent to bob@example.com",
        "Password reset required",
        f"HEAD is now at {'3f786850e387550fdab836ed7e6dc881de23001b'[:12]} Fix the build",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "max_tokens=4096 token_count=12 tokens: 7",
        "PWD=/home/runner/work OLDPWD=/home/runner",
        "the bearer of bad news",
        "Bearer Token Usage",
        "export DB_PASSWORD=$DB_PASSWORD",
        "password: ${{ secrets.DB_PASSWORD }}",
        "token=null secret=*** password=",
        "Authorization header missing",
        "see https://example.com/path?q=1 and http://localhost:8080/",
        "ssh://git@github.com:22/acme/shop.git",
        "primary key=id monkey=banana keyboard: us",
        "eyJ is how base64 JSON starts",
        "AKIA is the prefix of an access key id",
        "ghp_short",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
    ],
)
def test_ordinary_text_is_left_alone(text):
    result = redact(text, env={})
    assert (result.text, result.count) == (text, 0)


def test_every_secret_in_a_log_is_counted():
    log = "\n".join(
        [
            "Run actions/checkout@v4",
            f"  token: {GITHUB_PAT}",
            "curl -H 'Authorization: Bearer abc123xyz' https://api.example.com",
            "db connect postgres://app:hunter2@db/app",
            "login ok",
        ]
    )
    result = redact(log, env={})
    assert result.count == 3
    assert "hunter2" not in result.text and GITHUB_PAT not in result.text and "abc123xyz" not in result.text
    assert result.text.startswith("Run actions/checkout@v4\n") and result.text.endswith("\nlogin ok")


def test_redacting_twice_finds_nothing_more():
    log = f"password=hunter2 token={GITHUB_PAT} Authorization: Basic Zm9v\n{RSA_KEY}\nhttps://u:p4ss@h/"
    once = redact(log, env={})
    twice = redact(once.text, env={})
    assert once.count == 5
    assert (twice.text, twice.count) == (once.text, 0)


# -- secrets given and from the environment ---------------------------------------------------------


def test_the_profiles_own_token():
    result = redact("GET /api?auth=zd-profile-token-42 as zd-profile-token-42", secrets=["zd-profile-token-42"], env={})
    assert result.text == "GET /api?auth=[REDACTED] as [REDACTED]"
    assert result.count == 2


def test_a_given_secret_is_also_found_percent_encoded():
    result = redact("url ?t=a%2Fb%3Dc%2Bd", secrets=["a/b=c+d"], env={})
    assert (result.text, result.count) == ("url ?t=[REDACTED]", 1)


def test_environment_values_of_secret_named_variables():
    env = {
        "MY_API_TOKEN": "tok-value-123",
        "Deploy_Secret": "hush-hush",
        "DB_PASSWORD": "pa ss wo rd",
        "SSH_KEY_PASSPHRASE": "correct-horse",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE12",
        "FEATURE_KEY": "1",  # too short to redact
        "TOKENIZERS_PARALLELISM": "false",  # too short too
        "HOME": "/home/runner",  # not a secret name
        "EDITOR": "tok-value-123-not",  # a value is redacted whatever variable it appears next to
    }
    log = (
        "auth tok-value-123 then hush-hush, pa ss wo rd and correct-horse; AKIDEXAMPLE12; "
        "FEATURE_KEY=1 parallel=false home=/home/runner"
    )
    result = redact(log, env=env)
    assert result.text == (
        "auth [REDACTED] then [REDACTED], [REDACTED] and [REDACTED]; [REDACTED]; "
        "FEATURE_KEY=1 parallel=false home=/home/runner"
    )
    assert result.count == 5


def test_longest_secret_first():
    env = {"A_TOKEN": "abcdef", "B_TOKEN": "abcdefghij"}
    result = redact("abcdefghij abcdef", env=env)
    assert (result.text, result.count) == ("[REDACTED] [REDACTED]", 2)


def test_a_multiline_secret_is_redacted_line_by_line_too():
    env = {"DEPLOY_KEY": "line-one-secret\nline-two-secret\n"}
    result = redact("printed: line-two-secret", env=env)
    assert result.text == "printed: [REDACTED]"


def test_the_environment_defaults_to_os_environ(monkeypatch):
    monkeypatch.setenv("TIXCLI_TEST_UPLOAD_TOKEN", "zzz-env-secret-zzz")
    assert redact("got zzz-env-secret-zzz").text == "got [REDACTED]"
    assert redact("got zzz-env-secret-zzz", env={}).count == 0


def test_a_secret_already_redacted_by_value_is_counted_once():
    result = redact("export GITHUB_TOKEN=s3cr3t-value", env={"GITHUB_TOKEN": "s3cr3t-value"})
    assert (result.text, result.count) == ("export GITHUB_TOKEN=[REDACTED]", 1)


# -- private keys ------------------------------------------------------------------------------------


def test_a_private_key_block():
    result = redact(f"before\n{RSA_KEY}\nafter", env={})
    assert result.text == "before\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----\nafter"
    assert result.count == 1


@pytest.mark.parametrize("kind", ["", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "])
def test_private_key_kinds(kind):
    block = f"-----BEGIN {kind}PRIVATE KEY-----\nAAAAB3NzaC1yc2E\n-----END {kind}PRIVATE KEY-----"
    result = redact(block, env={})
    assert "AAAAB3NzaC1yc2E" not in result.text and result.count == 1


def test_a_pgp_private_key_block_and_two_blocks():
    pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----"
    result = redact(f"{pgp}\nmiddle\n{RSA_KEY}", env={})
    assert "lQOYBF" not in result.text and "MIIEow" not in result.text and "\nmiddle\n" in result.text
    assert result.count == 2


def test_a_tail_that_starts_inside_a_key_block():
    tail = "aNRa7B0sFHb3l0EwO9VGoYqGZgR2hJkFzP0qQ1bqYd6o5Y3wqJzq7Tq4y6aGjw==\n-----END RSA PRIVATE KEY-----\nnext step"
    result = redact(tail, env={})
    assert result.text == "[REDACTED]\n-----END RSA PRIVATE KEY-----\nnext step"
    assert result.count == 1


def test_a_key_block_without_its_end():
    result = redact("start\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIE", env={})
    assert result.text == "start\n-----BEGIN PRIVATE KEY-----\n[REDACTED]"
    assert result.count == 1


def test_a_key_block_printed_as_one_json_string():
    result = redact('{"key": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEow\\n-----END RSA PRIVATE KEY-----\\n"}', env={})
    assert "MIIEow" not in result.text and result.count == 1


# -- linear time ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        " " * 1_000_000,
        "a" * 1_000_000,
        "_" * 1_000_000,
        "eyJ" * 333_334,
        "eyJaaaaa." * 111_112,
        "password=" * 111_112,
        "key=" * 250_000,
        "a=a" * 333_334,
        "://a:" * 200_000,
        "Authorization:" * 71_429,
        "bearer " * 142_858,
        "ghp_" * 250_000,
        "AKIA" * 250_000,
        '"token":"' * 100_000,
        '\\"' * 500_000,
        ("x" * 127 + " ") * 7_813,
        "-----BEGIN RSA PRIVATE KEY-----" * 32_259,
    ],
    ids=lambda line: repr(line[:12]),
)
def test_a_one_megabyte_line_is_quick(line):
    started = time.perf_counter()
    redact(line, secrets=["not-in-the-line"], env={"X_TOKEN": "also-not-there"})
    assert time.perf_counter() - started < 5


# -- log_tail ---------------------------------------------------------------------------------------


def write(tmp_path, data: bytes, name: str = "build.log"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def numbered(count: int, newline: bytes = b"\n") -> bytes:
    return b"".join(b"line %d%s" % (i, newline) for i in range(1, count + 1))


def test_the_last_lines_exactly(tmp_path):
    path = write(tmp_path, numbered(1000))
    assert log_tail(path, 200) == "".join(f"line {i}\n" for i in range(801, 1001))
    assert log_tail(str(path), 1) == "line 1000\n"


def test_fewer_lines_than_asked(tmp_path):
    path = write(tmp_path, numbered(3))
    assert log_tail(path, 200) == "line 1\nline 2\nline 3\n"


def test_no_trailing_newline(tmp_path):
    path = write(tmp_path, b"one\ntwo\nthree")
    assert log_tail(path, 2) == "two\nthree\n"
    assert log_tail(path, 5) == "one\ntwo\nthree\n"


def test_crlf(tmp_path):
    path = write(tmp_path, numbered(10, b"\r\n"))
    assert log_tail(path, 2) == "line 9\nline 10\n"
    assert "\r" not in log_tail(path, 10)


def test_blank_lines_and_an_empty_file(tmp_path):
    assert log_tail(write(tmp_path, b"a\n\n\n\n"), 2) == "\n\n"
    assert log_tail(write(tmp_path, b"", "empty.log"), 5) == ""
    assert log_tail(write(tmp_path, b"\n", "one.log"), 5) == "\n"


def test_invalid_utf8_is_replaced(tmp_path):
    path = write(tmp_path, b"ok \xc3\xa9\nbad \xff\xfe here\ncut \xe2\x82\n")
    assert log_tail(path, 3) == "ok é\nbad \ufffd\ufffd here\ncut \ufffd\n"


def test_a_single_one_megabyte_line_is_cut(tmp_path):
    path = write(tmp_path, b"head\n" + b"x" * 1_000_000 + b"\n")
    text = log_tail(path, 2)
    first, second = text.splitlines()
    assert first == "head"
    assert second == "x" * 4096 + f" … [cut {1_000_000 - 4096:,} bytes]"


def test_a_cut_line_keeps_whole_characters(tmp_path):
    path = write(tmp_path, "€".encode() * 2000)  # 3 bytes each: 4096 falls inside one
    line = log_tail(path, 1).rstrip("\n")
    kept, marker = line.split(" … ")
    assert kept == "€" * 1365 and "\ufffd" not in kept
    assert marker == f"[cut {6000 - 1365 * 3:,} bytes]"


def test_a_cut_line_does_not_keep_half_a_token(tmp_path):
    token = "ghp_" + "Q" * 36
    path = write(tmp_path, b"y" * 4080 + b" " + token.encode() + b" tail")
    line = log_tail(path, 1)
    assert line == "y" * 4080 + " … [cut 45 bytes]\n"  # the token goes whole


def test_max_line_bytes(tmp_path):
    path = write(tmp_path, b"abcdef ghijkl\n")
    assert log_tail(path, 1, max_line_bytes=9) == "abcdef … [cut 6 bytes]\n"  # not half a word
    assert log_tail(path, 1, max_line_bytes=3) == "abc … [cut 10 bytes]\n"  # one word: cut inside it
    assert log_tail(path, 1, max_line_bytes=13) == "abcdef ghijkl\n"


def test_a_fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as fh:
            fh.write(numbered(5000))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert log_tail(fifo, 3) == "line 4998\nline 4999\nline 5000\n"
    finally:
        thread.join(10)


@pytest.mark.parametrize("lines", [0, -1, -200])
def test_lines_below_one_is_exit_6(tmp_path, lines):
    with pytest.raises(InvalidInputError) as info:
        log_tail(write(tmp_path, b"x\n"), lines)
    assert info.value.exit_status == ExitStatus.INVALID_INPUT == 6


def test_a_missing_file(tmp_path):
    with pytest.raises(InvalidInputError) as info:
        log_tail(tmp_path / "nope.log", 10)
    assert info.value.message == f"cannot read the log {tmp_path / 'nope.log'}: no such file"
    assert info.value.exit_status == 6


def test_a_directory_and_an_unreadable_file(tmp_path):
    with pytest.raises(InvalidInputError, match="is a directory"):
        log_tail(tmp_path, 10)
    locked = write(tmp_path, b"secret\n", "locked.log")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who reads everything")
        with pytest.raises(InvalidInputError) as info:
            log_tail(locked, 10)
        assert "\n" not in info.value.message and "locked.log" in info.value.message
    finally:
        locked.chmod(0o600)


def test_a_hostile_file_name_is_shown_on_one_line(tmp_path):
    with pytest.raises(InvalidInputError) as info:
        log_tail(tmp_path / "evil\nname\x1b[2J.log", 10)
    assert "\n" not in info.value.message and "\x1b" not in info.value.message


def test_a_50_megabyte_log_in_bounded_memory(tmp_path):
    path = tmp_path / "big.log"
    block = b"".join(b"%08d some build output that goes on for a while ...\n" % i for i in range(100_000))
    with open(path, "wb") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(block)
        fh.write(b"the penultimate line\nthe last line\n")
    tracemalloc.start()
    try:
        text = log_tail(path, 200)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    lines = text.splitlines()
    assert len(lines) == 200
    assert lines[-2:] == ["the penultimate line", "the last line"]
    assert lines[-3] == "00099999 some build output that goes on for a while ..."
    assert peak < 4 * 1024 * 1024, peak


def test_a_long_last_line_in_bounded_memory(tmp_path):
    path = tmp_path / "one-line.log"
    with open(path, "wb") as fh:
        fh.write(b"first\n")
        for _ in range(20):
            fh.write(b"z" * (1024 * 1024))  # 20 MB, no newline
    tracemalloc.start()
    try:
        text = log_tail(path, 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text == "first\n" + "z" * 4096 + f" … [cut {20 * 1024 * 1024 - 4096:,} bytes]\n"
    assert peak < 2 * 1024 * 1024, peak


def test_a_multi_gigabyte_log_is_read_from_its_end(tmp_path):
    path = tmp_path / "huge.log"
    with open(path, "wb") as fh:
        try:
            fh.truncate(64 * 1024**3)  # 64 GiB, sparse: reading it from the start would take minutes
        except OSError:
            pytest.skip("no large sparse files here")
        fh.seek(0, os.SEEK_END)
        fh.write(numbered(300))
    started = time.perf_counter()
    assert log_tail(path, 200) == "".join(f"line {i}\n" for i in range(101, 301))
    assert time.perf_counter() - started < 5


def test_tail_then_redact(tmp_path):
    path = write(tmp_path, b"noise\n" * 500 + b"Authorization: Bearer abc123xyz\nFAILED\n")
    result = redact(log_tail(path, 2), env={})
    assert (result.text, result.count) == ("Authorization: [REDACTED]\nFAILED\n", 1)
