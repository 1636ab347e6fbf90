#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora under tests/fuzz/corpus/<target>/.

Run once from anywhere; the output is committed. Each seed starts with the
parameter bytes its target takes off the front of its input (see each
target's header comment), then the bytes the target works on. File names
say what a seed is (URL seeds are numbered: the file is the URL); the
same input always gives the same file.
"""

import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# response_fuzz flags (response_fuzz.c).
HEAD, DECOMPRESS, SMALL_CAPS, STREAM = 1, 2, 4, 8


def response(status_line, headers, body=b""):
    lines = [status_line] + [f"{n}: {v}" for n, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*pieces, trailers=b""):
    out = b""
    for piece in pieces:
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n" + trailers + b"\r\n"


TEXT = b"hello, fuzzing world\n" * 4
GZIPPED = gzip.compress(TEXT, mtime=0)
DEFLATED = zlib.compress(TEXT)
RAW_DEFLATED = zlib.compress(TEXT)[2:-4]

RESPONSES = {
    "cl": (0, response("HTTP/1.1 200 OK", [("Content-Length", "5")], b"hello")),
    "cl_zero": (0, response("HTTP/1.1 200 OK", [("Content-Length", "0")])),
    "cl_http10": (0, response("HTTP/1.0 200 OK", [("Content-Length", "2")], b"hi")),
    "close_delimited": (0, response("HTTP/1.1 200 OK", [("Connection", "close")], b"until eof")),
    "http10_no_length": (0, b"HTTP/1.0 200 OK\r\n\r\nbody to the end"),
    "chunked": (0, response("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")],
                            chunked(b"hello", b" world"))),
    "chunked_ext_trailer": (0, response(
        "HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")],
        b"5;name=value\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n")),
    "chunked_streamed": (STREAM, response("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")],
                                          chunked(b"a" * 40, b"b" * 40))),
    "head": (HEAD, response("HTTP/1.1 200 OK", [("Content-Length", "1000")])),
    "continue_then_ok": (0, b"HTTP/1.1 100 Continue\r\n\r\n" +
                         response("HTTP/1.1 200 OK", [("Content-Length", "2")], b"ok")),
    "103_then_ok": (0, response("HTTP/1.1 103 Early Hints", [("Link", "</a>; rel=preload")]) +
                    response("HTTP/1.1 201 Created", [("Content-Length", "0")])),
    "204": (0, response("HTTP/1.1 204 No Content", [])),
    "204_with_length": (0, response("HTTP/1.1 204 No Content", [("Content-Length", "4")])),
    "304_with_length": (0, response("HTTP/1.1 304 Not Modified", [("Content-Length", "99")])),
    "gzip": (DECOMPRESS, response("HTTP/1.1 200 OK", [("Content-Encoding", "gzip"),
                                                      ("Content-Length", str(len(GZIPPED)))],
                                  GZIPPED)),
    "deflate": (DECOMPRESS, response("HTTP/1.1 200 OK", [("Content-Encoding", "deflate"),
                                                         ("Content-Length", str(len(DEFLATED)))],
                                     DEFLATED)),
    "raw_deflate_chunked": (DECOMPRESS, response(
        "HTTP/1.1 200 OK", [("Content-Encoding", "deflate"), ("Transfer-Encoding", "chunked")],
        chunked(RAW_DEFLATED[:1], RAW_DEFLATED[1:]))),
    "gzip_over_cap": (DECOMPRESS | SMALL_CAPS, response(
        "HTTP/1.1 200 OK", [("Content-Encoding", "gzip")], gzip.compress(b"z" * 5000, mtime=0))),
    "gzip_not_decoded": (0, response("HTTP/1.1 200 OK", [("Content-Encoding", "gzip"),
                                                         ("Content-Length", str(len(GZIPPED)))],
                                     GZIPPED)),
    "folded_header": (0, b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 0\r\n\r\n"),
    "odd_spacing": (0, b"HTTP/1.1 200 OK\r\nX-A:no-space\r\nX-B:   \t padded \t \r\nX-Empty:\r\n"
                    b"Content-Length: 1\r\n\r\nx"),
    "lf_only": (0, b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"),
    "repeated_headers": (0, response("HTTP/1.1 200 OK", [("Set-Cookie", "a=1"),
                                                         ("Set-Cookie", "b=2"),
                                                         ("Content-Length", "0")])),
    "no_reason": (0, b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"),
    "status_999": (0, response("HTTP/1.1 999 Odd", [("Content-Length", "0")])),
    "status_099": (0, response("HTTP/1.1 099 Low", [("Content-Length", "0")])),
    "101": (0, response("HTTP/1.1 101 Switching Protocols", [("Upgrade", "websocket")])),
    "cl_and_te": (0, response("HTTP/1.1 200 OK", [("Content-Length", "5"),
                                                  ("Transfer-Encoding", "chunked")],
                              chunked(b"hello"))),
    "two_lengths": (0, response("HTTP/1.1 200 OK", [("Content-Length", "5"),
                                                    ("Content-Length", "6")], b"hello!")),
    "bad_length": (0, response("HTTP/1.1 200 OK", [("Content-Length", "5x")], b"hello")),
    "bad_chunk_size": (0, response("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")],
                                   b"zz\r\nhello\r\n0\r\n\r\n")),
    "huge_chunk_size": (0, response("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")],
                                    b"ffffffffffffffffff\r\n")),
    "te_not_chunked": (0, response("HTTP/1.1 200 OK", [("Transfer-Encoding", "gzip")],
                                   b"to the end")),
    "te_prefix_name": (0, response("HTTP/1.1 200 OK", [("Transfer-Encoding-X", "chunked")],
                                   b"0\r\n\r\n")),
    "many_headers": (SMALL_CAPS, response("HTTP/1.1 200 OK",
                                          [(f"X-{i}", "v") for i in range(10)])),
    "long_header": (SMALL_CAPS, response("HTTP/1.1 200 OK", [("X-Long", "v" * 400)])),
    "body_over_cap": (SMALL_CAPS, response("HTTP/1.1 200 OK", [("Content-Length", "600")],
                                           b"b" * 600)),
    "pipelined_next": (0, response("HTTP/1.1 200 OK", [("Content-Length", "1")], b"a") +
                       response("HTTP/1.1 200 OK", [("Content-Length", "1")], b"b")),
    "keep_alive_10": (0, response("HTTP/1.0 200 OK", [("Connection", "keep-alive"),
                                                      ("Content-Length", "1")], b"k")),
    "garbage": (0, b"\x00\xffHTTP nonsense\r\n\r\n"),
    "truncated_head": (0, b"HTTP/1.1 200 OK\r\nContent-Le"),
    "truncated_body": (0, response("HTTP/1.1 200 OK", [("Content-Length", "10")], b"short")),
}

CHUNKED = {
    "one": chunked(b"hello"),
    "two": chunked(b"hello", b", world"),
    "empty": b"0\r\n\r\n",
    "upper_hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "leading_zeros": b"0005\r\nhello\r\n0000\r\n\r\n",
    "extension": b"5;a=b;c\r\nhello\r\n0;last\r\n\r\n",
    "space_extension": b"5 \r\nhello\r\n0\r\n\r\n",
    "trailers": chunked(b"abc", trailers=b"X-One: 1\r\nX-Two: 2\r\n"),
    "content_length_trailer": chunked(b"abc", trailers=b"Content-Length: 3\r\n"),
    "folded_trailer": chunked(b"abc", trailers=b"X-A: 1\r\n  more\r\n"),
    "lf_only": b"5\nhello\n0\n\n",
    "no_crlf_after_data": b"1\r\naXY0\r\n\r\n",
    "high_byte_size": b"\x81\r\n\r\n",
    "bad_size": b"g\r\nx\r\n0\r\n\r\n",
    "overflow": b"fffffffffffffffff\r\n",
    "cut_in_data": b"10\r\nonly some",
    "cut_in_size": b"1",
    "cut_in_trailer": chunked(b"x")[:-2] + b"X-T",
    "big": chunked(b"q" * 100, b"r" * 30),
    "many_small": chunked(*[b"%d" % i for i in range(20)]),
    "after_end": chunked(b"x") + b"HTTP/1.1 200 OK\r\n",
    "tab_in_size": b"5\t\r\nhello\r\n0\r\n\r\n",
    "empty_line_first": b"\r\n5\r\nhello\r\n0\r\n\r\n",
}

URLS = [
    "http://example.com", "https://example.com/", "http://example.com:8080/a/b?x=1&y=2#frag",
    "HTTPS://Example.COM:443/p", "http://[::1]:9000/x", "https://[::1]/",
    "http://[fe80::1%25eth0]/", "http://h?only=query", "http://127.0.0.1:65535/",
    "http://example.com:0/", "http://example.com:99999/", "http://user:pw@example.com/",
    "http://@example.com/", "http://user@example.com/", "http://[::1/", "http://::1/",
    "http://[::1]x/", "http://[]/", "http://a:b:c/", "ftp://example.com/", "file:///etc/passwd",
    "http://", "http:///path", "//example.com/", "/relative", "http://example.com/a b",
    "http://example.com/a\r\nX: 1", "http://example.com/\t", "http://exa mple.com/",
    "http://example.com/%00", "http://example.com/\x7f", "http://example.com/\xc3\xa9",
    "http://example.com:/", "http://example.com:080/", "https://example.com:443",
    "http://example.com?#", "http://example.com/#", "http://1.2.3.4.5/", "http://*/",
    "http://a/b/../c/./d", "http://xn--bcher-kva.example/", "HtTp://MiXeD.case:81/Path",
]

# url_fuzz seeds that repeat a piece of their URL (url_fuzz.c): after a NUL,
# a u16 start, a u8 length and a u16 count per repeat.
def repeat(url, piece, count):
    start = url.index(piece)
    return url.encode("latin-1") + b"\0" + struct.pack(">HBH", start, len(piece), count)


LONG_URLS = {
    # 65,524 "a": the host past 65,535 bytes, where http-parser's offsets wrap.
    "long_host_wraps": repeat("http://127.0.0.1a.example.com/x", "a", 65523),
    # 100,000 bytes: the query past 65,535.
    "long_query_past_wrap": repeat("http://h/0123456789?q=keep", "0123456789", 9998),
    "at_limit": repeat("http://h/x", "x", 32768 - 10),
    "past_limit": repeat("http://h/x", "x", 32768 - 9),
    "host_255": repeat("http://" + "a" * 255 + "/", "a", 0),
    "host_256": repeat("http://ab/", "a", 254),
}

# request_fuzz flags and fields (request_fuzz.c): method, URL, then names
# and values in turns, NUL-separated.
DECOMPRESS_REQ, USER_AGENT, DEFAULT_HEADER, BODY, BODY_STREAM, BODY_CHUNKED = 1, 2, 4, 8, 16, 32


def request(flags, *fields):
    return bytes([flags]) + b"\0".join(f.encode("latin-1") for f in fields)


REQUESTS = {
    "get": request(0, "GET", "http://example.com/"),
    "get_all_client_headers": request(DECOMPRESS_REQ | USER_AGENT | DEFAULT_HEADER, "GET",
                                      "http://example.com:8080/a?b"),
    "post_body": request(BODY, "POST", "http://example.com/form", "Content-Type", "text/plain"),
    "post_empty": request(0, "POST", "http://example.com/"),
    "put_streamed": request(BODY_STREAM, "PUT", "https://[::1]/up", "X-A", "1"),
    "patch_chunked": request(BODY_STREAM | BODY_CHUNKED, "PATCH", "http://h/"),
    "custom_method": request(0, "PURGE", "http://h/cache"),
    "caller_host": request(0, "GET", "http://h/", "Host", "other.example"),
    "caller_user_agent": request(USER_AGENT, "GET", "http://h/", "user-agent", "me"),
    "caller_accept_encoding": request(DECOMPRESS_REQ, "GET", "http://h/", "Accept-Encoding", "br"),
    "caller_default": request(DEFAULT_HEADER, "GET", "http://h/", "x-default", "mine"),
    "repeated": request(0, "GET", "http://h/", "X-R", "1", "X-R", "2", "X-R", "3"),
    "ows_value": request(0, "GET", "http://h/", "X-Pad", "  \t padded\t "),
    "empty_value": request(0, "GET", "http://h/", "X-Empty", ""),
    "obs_text": request(0, "GET", "http://h/", "X-Latin", "caf\xe9"),
    "tab_value": request(0, "GET", "http://h/", "X-Tab", "a\tb"),
    "crlf_value": request(0, "GET", "http://h/", "X-Inject", "a\r\nEvil: 1"),
    "lf_value": request(0, "GET", "http://h/", "X-Inject", "a\nEvil: 1"),
    "cr_value": request(0, "GET", "http://h/", "X-Inject", "a\rb"),
    "ctl_value": request(0, "GET", "http://h/", "X-Bell", "a\x07b"),
    "del_value": request(0, "GET", "http://h/", "X-Del", "a\x7fb"),
    "space_name": request(0, "GET", "http://h/", "X Bad", "1"),
    "colon_name": request(0, "GET", "http://h/", "X:Bad", "1"),
    "empty_name": request(0, "GET", "http://h/", "", "1"),
    "crlf_name": request(0, "GET", "http://h/", "X\r\nEvil", "1"),
    "crlf_method": request(0, "GET /x HTTP/1.1\r\nEvil:", "http://h/"),
    "space_method": request(0, "GE T", "http://h/"),
    "empty_method": request(0, "", "http://h/"),
    "crlf_url": request(0, "GET", "http://h/a\r\nEvil: 1"),
    "space_url": request(0, "GET", "http://h/a b"),
    "content_length": request(0, "POST", "http://h/", "Content-Length", "5"),
    "transfer_encoding": request(0, "POST", "http://h/", "transfer-encoding", "chunked"),
    "tchar_method": request(0, "M-!#$%&'*+.^_`|~", "http://h/"),
    "high_byte_method": request(0, "G\xc9T", "http://h/"),
    "many_headers": request(USER_AGENT, "GET", "http://h/",
                            *[x for i in range(20) for x in (f"X-{i}", f"v{i}")]),
}


def decode_seed(mode, cut, payload, stack=0):
    return bytes([mode]) + struct.pack(">H", cut) + bytes([stack]) + payload


# decode_fuzz modes (decode_fuzz.c): format 0 gzip, 1 zlib, 2 raw deflate.
GZIP_F, ZLIB_F, RAW_F, COMPRESS, SMALL_CAP = 0, 1, 2, 4, 8
# decode_fuzz stacking: codings on top of the first (0-7), which of the
# first three are deflate, identity named too, one value a coding.
ON_TOP_DEFLATE = (8, 16, 32)
IDENTITY, LINES = 0x40, 0x80
DECODES = {
    "compress_gzip": decode_seed(GZIP_F | COMPRESS, 7, TEXT),
    "compress_zlib_cut1": decode_seed(ZLIB_F | COMPRESS, 1, TEXT),
    "compress_raw": decode_seed(RAW_F | COMPRESS, 3, TEXT),
    "compress_level0": decode_seed(ZLIB_F | COMPRESS | 0x00, 2, TEXT),
    "compress_level9": decode_seed(GZIP_F | COMPRESS | 0x90, 100, TEXT * 8),
    "compress_empty": decode_seed(GZIP_F | COMPRESS, 0, b""),
    "compress_over_cap": decode_seed(ZLIB_F | COMPRESS | SMALL_CAP, 5, b"a" * 300),
    "compress_at_cap": decode_seed(RAW_F | COMPRESS | SMALL_CAP, 9, b"b" * 256),
    "gzip": decode_seed(GZIP_F, 10, GZIPPED),
    "gzip_cut1": decode_seed(GZIP_F, 1, GZIPPED),
    "gzip_truncated": decode_seed(GZIP_F, 4, GZIPPED[:-5]),
    "gzip_trailing_garbage": decode_seed(GZIP_F, 4, GZIPPED + b"junk"),
    "gzip_bad_crc": decode_seed(GZIP_F, 4, GZIPPED[:-8] + b"\0\0\0\0" + GZIPPED[-4:]),
    "zlib": decode_seed(ZLIB_F, 2, DEFLATED),
    "zlib_cut1": decode_seed(ZLIB_F, 1, DEFLATED),
    "raw": decode_seed(RAW_F, 2, RAW_DEFLATED),
    "raw_cut1": decode_seed(RAW_F, 1, RAW_DEFLATED),
    "zlib_bomb": decode_seed(ZLIB_F | SMALL_CAP, 3, zlib.compress(b"\0" * 100000, 9)),
    "gzip_bomb": decode_seed(GZIP_F | SMALL_CAP, 3, gzip.compress(b"\0" * 100000, 9, mtime=0)),
    "concatenated_gzip": decode_seed(GZIP_F, 0, GZIPPED + GZIPPED),
    "not_compressed": decode_seed(GZIP_F, 3, b"plain text, not gzip"),
    "zlib_header_only": decode_seed(ZLIB_F, 1, b"\x78\x9c"),
    "empty": decode_seed(RAW_F, 0, b""),
    "stored_block": decode_seed(RAW_F, 2, zlib.compress(TEXT, 0)[2:-4]),
    "zlib_preset_dict": decode_seed(ZLIB_F, 0, b"\x78\xbb\x00\x00\x00\x01\x03\x00"),
    "stacked_gzip_gzip": decode_seed(GZIP_F | COMPRESS, 9, TEXT, 1),
    "stacked_deflate_gzip_identity": decode_seed(ZLIB_F | COMPRESS, 5, TEXT, 1 | IDENTITY),
    "stacked_gzip_deflate_lines": decode_seed(GZIP_F | COMPRESS, 3, TEXT, 1 | ON_TOP_DEFLATE[0] | LINES),
    "stacked_four": decode_seed(RAW_F | COMPRESS, 11, TEXT * 4, 3 | ON_TOP_DEFLATE[1]),
    "stacked_five_refused": decode_seed(GZIP_F | COMPRESS, 2, TEXT, 4),
    "stacked_over_cap": decode_seed(GZIP_F | COMPRESS | SMALL_CAP, 6, b"c" * 300, 1),
    "stacked_raw_bytes": decode_seed(GZIP_F, 4, GZIPPED, 2 | IDENTITY),
    # Found by decode_fuzz: an outer stage told its cap before passing on
    # what it made below it, so the error depended on the split.
    "stacked_error_order": decode_seed(RAW_F | SMALL_CAP | 0xd0, 0xdada, bytes.fromhex(
        "dadadadadadadada28dadadadadadadadadadadadadadadadadadadadadadada"
        "dadadadadadadadadadadadadadad5daffffffffffffffffffffffffffffffff"
        "ffffffffffffdadadada01007fff2c81e826dadadadadadadadadadadadadada"
        "dadadadadadadadadadadadada0a0a0a0a0a0a0a01"),
                                       2 | ON_TOP_DEFLATE[0] | ON_TOP_DEFLATE[1] | IDENTITY | LINES),
}


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def main():
    write("response_fuzz", {
        name: bytes([flags]) + struct.pack(">H", len(data) // 2) + data
        for name, (flags, data) in RESPONSES.items()
    })
    write("chunked_fuzz", {**{
        name: bytes([0]) + struct.pack(">H", 48 + len(data) // 3) + data
        for name, data in CHUNKED.items()
    }, "small_cap": bytes([1, 0, 60]) + chunked(b"c" * 50, b"d" * 50)})
    write("url_fuzz", {**{f"{i:02d}": url.encode("latin-1") for i, url in enumerate(URLS)},
                       **LONG_URLS})
    write("request_fuzz", REQUESTS)
    write("decode_fuzz", DECODES)


if __name__ == "__main__":
    main()
