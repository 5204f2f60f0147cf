"""The photo pipeline: every accepted upload is decoded, cleaned and re-encoded by Pillow.

Decoding is restricted to JPEG, PNG, WebP and GIF and to 40 megapixels (a decompression bomb
is refused before it is decoded). The stored photo keeps no EXIF (GPS, maker notes), XMP or
comments: it is re-encoded from its pixels, turned upright first by its EXIF orientation
(JPEG and WebP at quality 90, PNG losslessly, animated GIFs frame by frame). A WebP thumbnail
of at most 320 px is made beside it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

MAX_PIXELS = 40_000_000
# An animation is decoded frame by frame: its frames together are bounded too.
MAX_ANIMATION_PIXELS = 100_000_000
THUMB_SIZE = 320
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_SAVE = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"),
         "WEBP": ("webp", "image/webp"), "GIF": ("gif", "image/gif")}  # fmt: skip


class PhotoRefused(ValueError):
    """The bytes are not a photo the demo stores; the message is the reason."""


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    extension: str
    content_type: str
    thumbnail: bytes


def clean_photo(stream: BinaryIO) -> CleanPhoto:
    """Decode `stream`, strip its metadata, turn it upright, and make its thumbnail."""
    try:
        with Image.open(stream, formats=_FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PhotoRefused(
                    f"{width}x{height} pixels is over the {MAX_PIXELS // 1_000_000} MP limit"
                )
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                _check_frames(image, frames)
            image_format = image.format or ""
            if image_format not in _SAVE:
                raise PhotoRefused("not a JPEG, PNG, WebP or GIF image")
            data = _reencode(image, image_format)
            thumbnail = _thumbnail(image)
    except (PhotoRefused, MemoryError):
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise PhotoRefused("not a JPEG, PNG, WebP or GIF image that can be decoded") from None
    except Exception:
        # Pillow's decoders raise many kinds of error on crafted files (IndexError and
        # struct.error from GIF frames, among others): all of them mean a damaged image.
        raise PhotoRefused("the image is damaged and cannot be decoded") from None
    extension, content_type = _SAVE[image_format]
    return CleanPhoto(data, extension, content_type, thumbnail)


def _check_frames(image: Image.Image, frames: int) -> None:
    """Refuse an animation whose frames are too large, before any is decoded: a GIF may grow
    its canvas at a later frame (a 1x1 first frame, then 13000x13000 ones), so each frame's
    size is read (seeking reads headers, not pixels)."""
    total = 0
    for index in range(frames):
        image.seek(index)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise PhotoRefused(
                f"frame {index + 1} of {width}x{height} pixels is over the "
                f"{MAX_PIXELS // 1_000_000} MP limit"
            )
        total += width * height
        if total > MAX_ANIMATION_PIXELS:
            raise PhotoRefused(
                f"{frames} frames of up to {width}x{height} pixels are over the "
                f"{MAX_ANIMATION_PIXELS // 1_000_000} MP limit for an animation"
            )
    image.seek(0)


def _reencode(image: Image.Image, image_format: str) -> bytes:
    output = io.BytesIO()
    if image_format == "GIF" and getattr(image, "is_animated", False):
        # Every frame, with its timing; the comment and other extensions stay behind.
        frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
        frames[0].save(
            output,
            "GIF",
            save_all=True,
            append_images=frames[1:],
            loop=image.info.get("loop", 0),
            duration=[frame.info.get("duration", 100) for frame in frames],
            disposal=2,
        )
        return output.getvalue()
    upright = ImageOps.exif_transpose(image) or image
    # Only the pixels and the colour profile travel: no EXIF, XMP, comment or other chunk.
    icc = upright.info.get("icc_profile")
    upright.info = {}
    extra = {"icc_profile": icc} if icc else {}
    if image_format == "JPEG":
        upright = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright
        upright.save(output, "JPEG", quality=90, optimize=True, **extra)
    elif image_format == "WEBP":
        upright.save(output, "WEBP", quality=90, **extra)
    elif image_format == "PNG":
        upright.save(output, "PNG", **extra)
    else:
        upright.save(output, "GIF")
    return output.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    image.seek(0)
    upright = ImageOps.exif_transpose(image) or image
    small = upright.convert("RGBA" if "A" in upright.getbands() or "transparency" in upright.info
                            else "RGB")  # fmt: skip
    small.thumbnail((THUMB_SIZE, THUMB_SIZE))
    output = io.BytesIO()
    small.save(output, "WEBP", quality=80)
    return output.getvalue()
