// CVulkanRuntime: the thin C layer between the Vulkan backend and the Vulkan API. Vulkan is a C API of
// deeply nested structures; this file keeps that plumbing in C and hands Swift a handful of calls on
// opaque handles: devices, buffers, compute pipelines, dispatches, transfers.
//
// The loader (libvulkan.so.1) is opened at run time with dlopen, so a binary built here runs where no
// Vulkan is installed (svk_load then reports why). Work is recorded into command buffers and submitted
// in batches: a dispatch returns at once, only a download or svk_synchronize waits. Two batches are in
// flight at most (one executing while the next is recorded). A failure inside recorded work is sticky:
// every later call returns it until the context is closed.
#ifndef STREAM_DIFFVSR_VULKAN_RUNTIME_H
#define STREAM_DIFFVSR_VULKAN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

typedef struct svk_context svk_context;
typedef struct svk_buffer svk_buffer;
typedef struct svk_pipeline svk_pipeline;

enum svk_device_kind {
    SVK_KIND_OTHER = 0,
    SVK_KIND_INTEGRATED = 1,
    SVK_KIND_DISCRETE = 2,
    SVK_KIND_VIRTUAL = 3,
    SVK_KIND_CPU = 4,
};

typedef struct svk_device_info {
    char name[256];
    char driver[256];
    int kind;
    uint32_t vendor_id;
    uint32_t api_version;
    /// Sum of the device-local heaps.
    uint64_t memory_bytes;
    /// storageBuffer16BitAccess: 16-bit values in storage buffers (fp16 storage, fp32 arithmetic).
    int storage_16bit;
    /// shaderFloat16: arithmetic on 16-bit floats.
    int shader_float16;
    uint32_t subgroup_size;
    uint32_t max_shared_memory;
    uint32_t max_workgroup_count_x;
    uint64_t max_storage_buffer_range;
} svk_device_info;

/// Opens the Vulkan loader and creates the process-wide instance. 0 on success; otherwise `error`
/// holds one line saying why (no loader, no driver, too old).
int svk_load(char *error, size_t error_size);

/// Physical devices of the instance (svk_load first).
int svk_device_count(void);
int svk_device_info_get(int index, svk_device_info *info);

/// A logical device with one compute queue on physical device `index`. NULL on failure (`error` says why).
svk_context *svk_open(int index, char *error, size_t error_size);
void svk_close(svk_context *context);

/// A device-local buffer of at least `bytes` bytes (rounded up to 16). NULL when the device is out of
/// memory (not sticky: the caller may free memory and retry). Destroyed after every batch recorded before it has finished.
svk_buffer *svk_buffer_create(svk_context *context, uint64_t bytes);
void svk_buffer_destroy(svk_context *context, svk_buffer *buffer);
uint64_t svk_buffer_size(const svk_buffer *buffer);

/// Device-memory bytes held now and at most since the context was opened.
uint64_t svk_allocated_bytes(svk_context *context);
uint64_t svk_peak_allocated_bytes(svk_context *context);

/// Records a copy of host bytes into the buffer (through a staging buffer; the host memory may be
/// reused as soon as this returns).
int svk_upload(svk_context *context, svk_buffer *buffer, uint64_t offset, const void *data, uint64_t bytes);
/// Waits for every recorded operation, then copies the buffer's bytes to the host.
int svk_download(svk_context *context, svk_buffer *buffer, uint64_t offset, void *data, uint64_t bytes);

/// A compute pipeline from SPIR-V whose entry point `main` reads `bindings` storage buffers (set 0,
/// bindings 0..<bindings) and `push_bytes` bytes of push constants. NULL on failure.
svk_pipeline *svk_pipeline_create(svk_context *context, const void *spirv, size_t spirv_bytes, uint32_t bindings,
                                  uint32_t push_bytes, char *error, size_t error_size);

/// Records one dispatch of `groups_x * groups_y * groups_z` workgroups with `buffers` bound in order,
/// followed by a barrier that makes its writes visible to every later operation.
int svk_dispatch(svk_context *context, svk_pipeline *pipeline, svk_buffer *const *buffers, uint32_t buffer_count,
                 const void *push, uint32_t push_bytes, uint32_t groups_x, uint32_t groups_y, uint32_t groups_z);
/// Records a fill of `bytes` bytes (a multiple of 4) from `offset` with a 32-bit pattern.
int svk_fill(svk_context *context, svk_buffer *buffer, uint64_t offset, uint64_t bytes, uint32_t pattern);
/// Records buffer-to-buffer copies: `regions` holds (source offset, target offset, bytes) triples.
int svk_copy(svk_context *context, svk_buffer *source, svk_buffer *target, const uint64_t *regions, uint32_t region_count);

/// Submits what was recorded and waits for it; returns the sticky error if any.
int svk_synchronize(svk_context *context);
/// The message of the sticky error ("" if none).
const char *svk_error_message(svk_context *context);

#endif
