#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/* libjpeg reports fatal errors by calling error_exit, which must not return; Swift cannot longjmp,
   so decoding runs here, behind a setjmp, and the caller gets a status and a message instead. */

struct media_jpeg_error_manager {
    struct jpeg_error_mgr standard;
    jmp_buf recovery;
    char message[JMSG_LENGTH_MAX];
};

static void media_jpeg_error_exit(j_common_ptr info) {
    struct media_jpeg_error_manager *manager = (struct media_jpeg_error_manager *)info->err;
    (*info->err->format_message)(info, manager->message);
    longjmp(manager->recovery, 1);
}

/* A truncated file only produces a warning in libjpeg (the missing rows come out grey);
   treat it as the corrupt file it is. Other warnings stay silent. */
static void media_jpeg_emit_message(j_common_ptr info, int level) {
    if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) {
        media_jpeg_error_exit(info);
    }
}

/* `failed` is set to this when the header declares more than `max_pixels` pixels. */
#define MEDIA_JPEG_TOO_LARGE 2

/* Decodes a JPEG held in memory to interleaved 8-bit RGB. On success returns a malloc'ed buffer of
   width*height*3 bytes (free it with free()); with header_only set, returns NULL after filling the size.
   On failure returns NULL and writes a message of at most JMSG_LENGTH_MAX bytes to `message`.
   The pixel count is checked against `max_pixels` right after the header, before jpeg_start_decompress
   (which allocates whole-image buffers for progressive files) and before the output buffer. */
static inline unsigned char *media_jpeg_decode_rgb(const unsigned char *data, unsigned long size, int header_only,
                                                   unsigned long long max_pixels,
                                                   int *width, int *height, int *failed, char *message) {
    struct jpeg_decompress_struct info;
    struct media_jpeg_error_manager manager;
    unsigned char *volatile pixels = NULL;
    *failed = 0;
    message[0] = 0;
    info.err = jpeg_std_error(&manager.standard);
    manager.standard.error_exit = media_jpeg_error_exit;
    manager.standard.emit_message = media_jpeg_emit_message;
    manager.message[0] = 0;
    if (setjmp(manager.recovery)) {
        jpeg_destroy_decompress(&info);
        free(pixels);
        *failed = 1;
        snprintf(message, JMSG_LENGTH_MAX, "%s", manager.message);
        return NULL;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    *width = (int)info.image_width;
    *height = (int)info.image_height;
    if (header_only) {
        jpeg_destroy_decompress(&info);
        return NULL;
    }
    if ((unsigned long long)info.image_width * (unsigned long long)info.image_height > max_pixels) {
        jpeg_destroy_decompress(&info);
        *failed = MEDIA_JPEG_TOO_LARGE;
        return NULL;
    }
    jpeg_start_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    if ((unsigned long long)info.output_width * (unsigned long long)info.output_height > max_pixels) {
        jpeg_destroy_decompress(&info);
        *failed = MEDIA_JPEG_TOO_LARGE;
        return NULL;
    }
    size_t stride = (size_t)info.output_width * 3;
    pixels = (unsigned char *)malloc(stride * info.output_height);
    if (pixels == NULL) {
        jpeg_destroy_decompress(&info);
        *failed = 1;
        snprintf(message, JMSG_LENGTH_MAX, "out of memory");
        return NULL;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return pixels;
}
