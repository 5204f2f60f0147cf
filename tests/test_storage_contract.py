"""One contract every backend keeps, so the backends cannot drift apart."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.storage import StorageInterface, UnsafeKeyError

from .conftest import ServedStorage

TRICKY_KEYS = [
    "photos/plain.jpg",
    "photos/with space.jpg",
    "photos/plus+sign.jpg",
    "photos/hash#tag.jpg",
    "photos/per%cent.jpg",
    "photos/question?.jpg",
    "photos/ünïcødé-Åsa.jpg",
    "photos/日本語/写真.jpg",
    "photos/semi;colon&amp=1.jpg",
]

HOSTILE_KEYS = [
    "",
    "/etc/passwd",
    "../outside.txt",
    "photos/../../outside.txt",
    "photos/..",
    "..",
    ".",
    "./photos/a.jpg",
    "photos//a.jpg",
    "photos\\..\\a.jpg",
    "C:\\Windows\\a.jpg",
    "photos/a\x00.jpg",
    "/",
    "photos/new\nline.jpg",
    "photos/tab\t.jpg",
    "photos/escape\x1b[31m.jpg",
    "photos/delete\x7f.jpg",
    "photos/" + "k" * 1_018,  # 1,025 bytes: over S3's limit of 1,024
    "photos/" + "é" * 509,  # 1,025 bytes of UTF-8 in 516 characters
]


def test_round_trip_returns_the_url_of_the_saved_file(storage: StorageInterface) -> None:
    url = storage.save_file(b"hello", "docs/hello.txt", "text/plain")
    assert url == storage.get_file_url("docs/hello.txt")
    assert storage.get_file("docs/hello.txt") == b"hello"
    assert storage.file_exists("docs/hello.txt")


def test_overwrite_replaces_the_content(storage: StorageInterface) -> None:
    storage.save_file(b"first version", "a.txt")
    storage.save_file(b"second", "a.txt")
    assert storage.get_file("a.txt") == b"second"
    assert storage.list_files() == ["a.txt"]


def test_nested_keys_and_listing_with_and_without_prefix(storage: StorageInterface) -> None:
    keys = ["top.txt", "photos/a.jpg", "photos/b.jpg", "photos/deep/c.jpg", "photosx/d.jpg"]
    for key in keys:
        storage.save_file(key.encode(), key)
    storage.ensure_directories("photos", "empty/folder")
    assert storage.list_files() == sorted(keys)
    assert storage.list_files("photos/") == ["photos/a.jpg", "photos/b.jpg", "photos/deep/c.jpg"]
    assert storage.list_files("photos") == sorted(keys[1:])
    assert storage.list_files("photos/deep/") == ["photos/deep/c.jpg"]
    assert storage.list_files("nothing/") == []


def test_delete_twice_returns_true_then_false(storage: StorageInterface) -> None:
    storage.save_file(b"x", "gone/soon.txt")
    assert storage.delete_file("gone/soon.txt") is True
    assert storage.delete_file("gone/soon.txt") is False
    assert not storage.file_exists("gone/soon.txt")
    assert storage.list_files("gone/") == []


def test_missing_file_raises_file_not_found(storage: StorageInterface) -> None:
    assert storage.file_exists("never/was.txt") is False
    with pytest.raises(FileNotFoundError):
        storage.get_file("never/was.txt")


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_every_method_refuses_a_hostile_key(storage: StorageInterface, key: str) -> None:
    storage.save_file(b"keep", "inside.txt")
    calls = [
        lambda: storage.save_file(b"evil", key),
        lambda: storage.get_file(key),
        lambda: storage.file_exists(key),
        lambda: storage.delete_file(key),
        lambda: storage.get_file_url(key),
        lambda: storage.ensure_directories(key),
    ]
    if key:
        calls.append(lambda: storage.list_files(key))
    for call in calls:
        with pytest.raises(UnsafeKeyError):
            call()
    assert storage.list_files() == ["inside.txt"]


def test_unicode_keys_round_trip_and_list(storage: StorageInterface) -> None:
    for key in TRICKY_KEYS:
        storage.save_file(key.encode("utf-8"), key)
    assert storage.list_files() == sorted(TRICKY_KEYS)
    for key in TRICKY_KEYS:
        assert storage.get_file(key) == key.encode("utf-8")


def test_more_than_a_thousand_keys_are_all_listed(storage: StorageInterface) -> None:
    keys = [f"many/{index:05d}.txt" for index in range(1_005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: storage.save_file(b"", key), keys))
    storage.save_file(b"", "other/outside-the-prefix.txt")
    assert storage.list_files("many/") == keys
    assert len(storage.list_files()) == 1_006


def test_urls_serve_the_file_over_http(served: ServedStorage) -> None:
    for key in TRICKY_KEYS:
        content = f"content of {key}".encode()
        url = served.storage.save_file(content, key, "text/plain")
        if key.endswith("question?.jpg"):
            assert "question%3F.jpg" in url, "a '?' in a key is encoded, not a query"
        with urllib.request.urlopen(served.absolute(url), timeout=10) as response:
            assert response.status == 200
            assert response.read() == content


def test_save_guesses_the_content_type_from_the_key(served: ServedStorage) -> None:
    url = served.storage.save_file(b"\x89PNG\r\n\x1a\n", "pictures/dot.png")
    with urllib.request.urlopen(served.absolute(url), timeout=10) as response:
        assert response.headers["Content-Type"] == "image/png"


def test_keys_up_to_1024_bytes_are_kept_everywhere(storage: StorageInterface) -> None:
    from services.storage import FilesystemStorage

    settings = getattr(storage, "settings", None)
    budget = 1_024 - len(settings.prefix if settings else "")  # S3 counts the prefix too
    longest = "/".join(["k" * 200] * 5) + "/"
    longest += "x" * (budget - len(longest))  # names stay under 255 bytes
    assert len(longest.encode()) == budget
    with pytest.raises(UnsafeKeyError, match="bytes"):
        storage.save_file(b"long", longest + "y")
    if isinstance(storage, FilesystemStorage) and len(str(storage.base_dir)) + 1_025 > 4_000:
        pytest.skip("the test folder's path is too long for a 1,024-byte key below it")
    storage.save_file(b"long", longest)
    assert storage.get_file(longest) == b"long"
    assert storage.list_files() == [longest]


def test_a_name_over_255_bytes_is_refused_on_the_filesystem_only(
    storage: StorageInterface,
) -> None:
    from services.storage import FilesystemStorage

    key = "photos/" + "n" * 256 + ".jpg"
    if isinstance(storage, FilesystemStorage):
        for method, arguments in (
            (storage.save_file, (b"x", key)),
            (storage.get_file, (key,)),
            (storage.file_exists, (key,)),
            (storage.delete_file, (key,)),
            (storage.get_file_url, (key,)),
        ):
            with pytest.raises(UnsafeKeyError, match="at most 255"):
                method(*arguments)  # type: ignore[operator]
        assert storage.list_files() == []
    else:
        storage.save_file(b"x", key)
        assert storage.get_file(key) == b"x"


def test_streams_round_trip_with_type_and_md5(storage: StorageInterface) -> None:
    import hashlib
    import io

    data = bytes(range(256)) * 12_000  # 3 MB
    url = storage.save_stream(io.BytesIO(data), "big/photo.jpg", "image/jpeg")
    assert url == storage.get_file_url("big/photo.jpg")
    with storage.open_file("big/photo.jpg") as stream:
        assert (stream.size, stream.content_type) == (len(data), "image/jpeg")
        chunks = []
        while chunk := stream.read(1 << 20):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert storage.file_md5("big/photo.jpg") == hashlib.md5(data).hexdigest()
    with pytest.raises(FileNotFoundError):
        storage.open_file("big/missing.jpg")


def test_iter_files_lists_in_key_order_with_sizes(storage: StorageInterface) -> None:
    keys = ["a0.txt", "a/b.txt", "a-c.txt", "a/z/d.txt", "b.txt", "ä.txt"]
    for index, key in enumerate(keys):
        storage.save_file(b"x" * index, key)
    listed = list(storage.iter_files())
    assert [info.key for info in listed] == sorted(keys) == storage.list_files()
    assert {info.key: info.size for info in listed} == {k: i for i, k in enumerate(keys)}
    assert [info.key for info in storage.iter_files("a/")] == ["a/b.txt", "a/z/d.txt"]
    assert [info.key for info in storage.iter_files("a")] == [
        "a-c.txt",
        "a/b.txt",
        "a/z/d.txt",
        "a0.txt",
    ]
