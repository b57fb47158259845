// See include/vulkan_runtime.h. Built without the Vulkan headers (libvulkan-dev), every call reports
// that this build has no Vulkan support and the engine stays on the CPU.
#include "vulkan_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<vulkan/vulkan.h>)
#define VK_NO_PROTOTYPES
#include <dlfcn.h>
#include <pthread.h>
#include <vulkan/vulkan.h>

static void set_error(char *error, size_t size, const char *format, ...) {
    if (!error || size == 0) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, size, format, arguments);
    va_end(arguments);
}

// MARK: Loader and instance

static void *loader_library;
static VkInstance instance;
static uint32_t physical_device_count;
static VkPhysicalDevice physical_devices[16];
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int load_status = -1; // -1 not tried, 0 loaded, 1 failed
static char load_error[512];

static PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr_;
#define INSTANCE_FUNCTIONS(X) \
    X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties) X(vkGetPhysicalDeviceProperties2) \
    X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceMemoryProperties) \
    X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)
#define DEVICE_FUNCTIONS(X) \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) \
    X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory) X(vkMapMemory) X(vkUnmapMemory) \
    X(vkCreateShaderModule) X(vkDestroyShaderModule) X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) \
    X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) X(vkCreateComputePipelines) X(vkDestroyPipeline) \
    X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool) X(vkResetDescriptorPool) X(vkAllocateDescriptorSets) \
    X(vkUpdateDescriptorSets) X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) \
    X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkResetCommandBuffer) X(vkCmdBindPipeline) \
    X(vkCmdBindDescriptorSets) X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) \
    X(vkCmdFillBuffer) X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences) X(vkQueueSubmit) \
    X(vkDeviceWaitIdle)

#define DECLARE(name) static PFN_##name name##_;
INSTANCE_FUNCTIONS(DECLARE)
DEVICE_FUNCTIONS(DECLARE)
static PFN_vkCreateInstance vkCreateInstance_;
static PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion_;

static int load_once(void) {
    loader_library = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!loader_library) loader_library = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
#ifdef __APPLE__
    if (!loader_library) loader_library = dlopen("libvulkan.1.dylib", RTLD_NOW | RTLD_LOCAL);
    if (!loader_library) loader_library = dlopen("libMoltenVK.dylib", RTLD_NOW | RTLD_LOCAL);
#endif
    if (!loader_library) {
        set_error(load_error, sizeof load_error, "no Vulkan loader (libvulkan.so.1) is installed");
        return 1;
    }
    vkGetInstanceProcAddr_ = (PFN_vkGetInstanceProcAddr)dlsym(loader_library, "vkGetInstanceProcAddr");
    if (!vkGetInstanceProcAddr_) {
        set_error(load_error, sizeof load_error, "the Vulkan loader has no vkGetInstanceProcAddr");
        return 1;
    }
    vkCreateInstance_ = (PFN_vkCreateInstance)vkGetInstanceProcAddr_(NULL, "vkCreateInstance");
    vkEnumerateInstanceVersion_ = (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr_(NULL, "vkEnumerateInstanceVersion");
    uint32_t version = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion_) vkEnumerateInstanceVersion_(&version);
    if (!vkCreateInstance_ || version < VK_API_VERSION_1_1) {
        set_error(load_error, sizeof load_error, "the Vulkan loader is older than Vulkan 1.1");
        return 1;
    }
    VkApplicationInfo application = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "stream-diffvsr",
        .apiVersion = version >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1,
    };
    VkInstanceCreateInfo create = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &application};
    VkResult result = vkCreateInstance_(&create, NULL, &instance);
    if (result != VK_SUCCESS) {
        set_error(load_error, sizeof load_error, "vkCreateInstance failed (%d): no Vulkan driver is installed", result);
        return 1;
    }
#define LOAD_INSTANCE(name) \
    name##_ = (PFN_##name)vkGetInstanceProcAddr_(instance, #name); \
    if (!name##_) { set_error(load_error, sizeof load_error, "the Vulkan loader lacks " #name); return 1; }
    INSTANCE_FUNCTIONS(LOAD_INSTANCE)
    // Device functions through the instance: the loader's trampolines dispatch to whichever device a
    // handle belongs to, so several devices (of different drivers) share one table.
    DEVICE_FUNCTIONS(LOAD_INSTANCE)
    physical_device_count = 16;
    result = vkEnumeratePhysicalDevices_(instance, &physical_device_count, physical_devices);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
        set_error(load_error, sizeof load_error, "vkEnumeratePhysicalDevices failed (%d)", result);
        return 1;
    }
    return 0;
}

int svk_load(char *error, size_t error_size) {
    pthread_mutex_lock(&load_lock);
    if (load_status < 0) load_status = load_once();
    pthread_mutex_unlock(&load_lock);
    if (load_status != 0) set_error(error, error_size, "%s", load_error);
    return load_status;
}

int svk_device_count(void) { return load_status == 0 ? (int)physical_device_count : 0; }

typedef struct features {
    VkPhysicalDeviceFeatures2 base;
    VkPhysicalDevice16BitStorageFeatures storage16;
    VkPhysicalDeviceShaderFloat16Int8Features float16;
} features;

static void query_features(VkPhysicalDevice device, uint32_t api_version, features *f) {
    memset(f, 0, sizeof *f);
    f->base.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    f->storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
    f->float16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
    f->base.pNext = &f->storage16;
    if (api_version >= VK_API_VERSION_1_2) f->storage16.pNext = &f->float16;
    vkGetPhysicalDeviceFeatures2_(device, &f->base);
}

int svk_device_info_get(int index, svk_device_info *info) {
    if (load_status != 0 || index < 0 || (uint32_t)index >= physical_device_count) return 1;
    VkPhysicalDevice device = physical_devices[index];
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceSubgroupProperties subgroup = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties plain;
    vkGetPhysicalDeviceProperties_(device, &plain);
    subgroup.pNext = plain.apiVersion >= VK_API_VERSION_1_2 ? &driver : NULL;
    VkPhysicalDeviceProperties2 properties = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &subgroup};
    vkGetPhysicalDeviceProperties2_(device, &properties);
    VkPhysicalDeviceProperties *p = &properties.properties;
    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    if (plain.apiVersion >= VK_API_VERSION_1_2)
        snprintf(info->driver, sizeof info->driver, "%s %s", driver.driverName, driver.driverInfo);
    else
        snprintf(info->driver, sizeof info->driver, "driver version %u", p->driverVersion);
    switch (p->deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: info->kind = SVK_KIND_INTEGRATED; break;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: info->kind = SVK_KIND_DISCRETE; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: info->kind = SVK_KIND_VIRTUAL; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: info->kind = SVK_KIND_CPU; break;
    default: info->kind = SVK_KIND_OTHER;
    }
    info->vendor_id = p->vendorID;
    info->api_version = p->apiVersion;
    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties_(device, &memory);
    for (uint32_t i = 0; i < memory.memoryHeapCount; i++)
        if (memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) info->memory_bytes += memory.memoryHeaps[i].size;
    features f;
    query_features(device, p->apiVersion, &f);
    info->storage_16bit = f.storage16.storageBuffer16BitAccess ? 1 : 0;
    info->shader_float16 = f.float16.shaderFloat16 ? 1 : 0;
    info->subgroup_size = subgroup.subgroupSize;
    info->max_shared_memory = p->limits.maxComputeSharedMemorySize;
    info->max_workgroup_count_x = p->limits.maxComputeWorkGroupCount[0];
    info->max_storage_buffer_range = p->limits.maxStorageBufferRange;
    return 0;
}

// MARK: Context

struct svk_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint64_t size;
    void *mapped; // staging buffers only
};

struct svk_pipeline {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSetLayout set_layout;
    uint32_t bindings;
    struct svk_pipeline *next;
};

enum { DESCRIPTOR_POOL_SETS = 1024, MAX_BINDINGS = 8, BATCHES = 2 };
/// A batch is submitted once it holds this many dispatches or staging bytes, without waiting.
enum { BATCH_DISPATCHES = 512 };
static const uint64_t BATCH_STAGING_BYTES = 256ull << 20;

typedef struct pointer_list {
    void **items;
    size_t count, capacity;
} pointer_list;

static int list_append(pointer_list *list, void *item) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        void **items = realloc(list->items, capacity * sizeof(void *));
        if (!items) return 1;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = item;
    return 0;
}

typedef struct batch {
    VkCommandBuffer commands;
    VkFence fence;
    int recording, submitted;
    uint32_t dispatches;
    uint64_t staging_bytes;
    pointer_list descriptor_pools; // VkDescriptorPool handles (cast), all but the last full
    uint32_t sets_in_last_pool;
    pointer_list released;         // svk_buffer* destroyed once the batch has finished
} batch;

struct svk_context {
    pthread_mutex_t lock;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    VkCommandPool command_pool;
    uint32_t device_memory_type, staging_memory_type, readback_memory_type;
    batch batches[BATCHES];
    int current;
    svk_pipeline *pipelines;
    uint64_t allocated, peak;
    VkResult failure;
    char message[512];
};

static int find_memory_type(VkPhysicalDevice physical, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
                            uint32_t *type) {
    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties_(physical, &memory);
    for (int pass = 0; pass < 2; pass++) {
        VkMemoryPropertyFlags wanted = pass == 0 ? required | preferred : required;
        for (uint32_t i = 0; i < memory.memoryTypeCount; i++) {
            if ((memory.memoryTypes[i].propertyFlags & wanted) == wanted) {
                *type = i;
                return 0;
            }
        }
    }
    return 1;
}

static void fail(svk_context *context, VkResult result, const char *what) {
    if (context->failure != VK_SUCCESS) return;
    context->failure = result == VK_SUCCESS ? VK_ERROR_UNKNOWN : result;
    const char *reason = result == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "out of device memory"
                       : result == VK_ERROR_OUT_OF_HOST_MEMORY ? "out of host memory"
                       : result == VK_ERROR_DEVICE_LOST ? "the device was lost" : "Vulkan error";
    snprintf(context->message, sizeof context->message, "%s: %s (VkResult %d)", what, reason, result);
}

svk_context *svk_open(int index, char *error, size_t error_size) {
    if (load_status != 0) {
        set_error(error, error_size, "%s", load_status < 0 ? "Vulkan was not loaded" : load_error);
        return NULL;
    }
    if (index < 0 || (uint32_t)index >= physical_device_count) {
        set_error(error, error_size, "there is no Vulkan device %d", index);
        return NULL;
    }
    VkPhysicalDevice physical = physical_devices[index];
    uint32_t family_count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties_(physical, &family_count, NULL);
    VkQueueFamilyProperties families[32];
    if (family_count > 32) family_count = 32;
    vkGetPhysicalDeviceQueueFamilyProperties_(physical, &family_count, families);
    uint32_t family = UINT32_MAX;
    for (uint32_t i = 0; i < family_count; i++) {
        if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            // A compute-only family (an async compute queue) is as good; the first compute family is taken.
            family = i;
            break;
        }
    }
    if (family == UINT32_MAX) {
        set_error(error, error_size, "Vulkan device %d has no compute queue", index);
        return NULL;
    }
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties_(physical, &properties);
    features supported, enabled;
    query_features(physical, properties.apiVersion, &supported);
    query_features(physical, properties.apiVersion, &enabled);
    memset(&enabled.base.features, 0, sizeof enabled.base.features);
    enabled.storage16.uniformAndStorageBuffer16BitAccess = VK_FALSE;
    enabled.storage16.storagePushConstant16 = VK_FALSE;
    enabled.storage16.storageInputOutput16 = VK_FALSE;
    enabled.float16.shaderInt8 = VK_FALSE;
    enabled.storage16.storageBuffer16BitAccess = supported.storage16.storageBuffer16BitAccess;
    enabled.float16.shaderFloat16 = supported.float16.shaderFloat16;
    float priority = 1;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = family, .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo create = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &enabled.base, .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
    };
    VkDevice device;
    VkResult result = vkCreateDevice_(physical, &create, NULL, &device);
    if (result != VK_SUCCESS) {
        set_error(error, error_size, "vkCreateDevice failed on Vulkan device %d (VkResult %d)", index, result);
        return NULL;
    }
    svk_context *context = calloc(1, sizeof *context);
    if (!context) return NULL;
    pthread_mutex_init(&context->lock, NULL);
    context->physical = physical;
    context->device = device;
    vkGetDeviceQueue_(device, family, 0, &context->queue);
    if (find_memory_type(physical, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, &context->device_memory_type)
        || find_memory_type(physical, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0,
                            &context->staging_memory_type)
        || find_memory_type(physical, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                            VK_MEMORY_PROPERTY_HOST_CACHED_BIT, &context->readback_memory_type)) {
        set_error(error, error_size, "Vulkan device %d has no usable memory types", index);
        vkDestroyDevice_(device, NULL);
        free(context);
        return NULL;
    }
    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = family,
    };
    result = vkCreateCommandPool_(device, &pool, NULL, &context->command_pool);
    for (int i = 0; i < BATCHES && result == VK_SUCCESS; i++) {
        VkCommandBufferAllocateInfo allocate = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = context->command_pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1,
        };
        result = vkAllocateCommandBuffers_(device, &allocate, &context->batches[i].commands);
        VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        if (result == VK_SUCCESS) result = vkCreateFence_(device, &fence, NULL, &context->batches[i].fence);
    }
    if (result != VK_SUCCESS) {
        set_error(error, error_size, "cannot create command buffers on Vulkan device %d (VkResult %d)", index, result);
        svk_close(context);
        return NULL;
    }
    return context;
}

static void destroy_buffer_now(svk_context *context, svk_buffer *buffer) {
    if (buffer->mapped) vkUnmapMemory_(context->device, buffer->memory);
    vkDestroyBuffer_(context->device, buffer->buffer, NULL);
    vkFreeMemory_(context->device, buffer->memory, NULL);
    if (!buffer->mapped) context->allocated -= buffer->size;
    free(buffer);
}

static void wait_for(svk_context *context, batch *b) {
    if (!b->submitted) return;
    VkResult result = vkWaitForFences_(context->device, 1, &b->fence, VK_TRUE, UINT64_MAX);
    if (result != VK_SUCCESS) fail(context, result, "waiting for the device");
    vkResetFences_(context->device, 1, &b->fence);
    b->submitted = 0;
}

/// Waits for a submitted batch and releases what it held (buffers released while it was recorded or,
/// not recording, while the batch before it was in flight).
static void retire(svk_context *context, batch *b) {
    wait_for(context, b);
    for (size_t i = 0; i < b->released.count; i++) destroy_buffer_now(context, b->released.items[i]);
    b->released.count = 0;
    for (size_t i = 0; i < b->descriptor_pools.count; i++)
        vkResetDescriptorPool_(context->device, (VkDescriptorPool)b->descriptor_pools.items[i], 0);
    b->sets_in_last_pool = 0;
    // Every pool is empty again; keep them all but start filling from the first.
    if (b->descriptor_pools.count > 1) {
        for (size_t i = 1; i < b->descriptor_pools.count; i++)
            vkDestroyDescriptorPool_(context->device, (VkDescriptorPool)b->descriptor_pools.items[i], NULL);
        b->descriptor_pools.count = 1;
    }
    b->dispatches = 0;
    b->staging_bytes = 0;
}

static void full_barrier(VkCommandBuffer commands) {
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT
                       | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier_(commands, stages, stages, 0, 1, &barrier, 0, NULL, 0, NULL);
}

/// The batch being recorded, begun if needed.
static batch *recording(svk_context *context) {
    batch *b = &context->batches[context->current];
    if (!b->recording) {
        VkCommandBufferBeginInfo begin = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
        };
        VkResult result = vkBeginCommandBuffer_(b->commands, &begin);
        if (result != VK_SUCCESS) fail(context, result, "vkBeginCommandBuffer");
        // Orders this batch after the work of earlier submissions (buffers are reused between them).
        full_barrier(b->commands);
        b->recording = 1;
    }
    return b;
}

/// Submits the batch being recorded (if any) and moves on to the other one, waiting for it first.
static void submit(svk_context *context) {
    batch *b = &context->batches[context->current];
    if (!b->recording) return;
    VkResult result = vkEndCommandBuffer_(b->commands);
    if (result != VK_SUCCESS) fail(context, result, "vkEndCommandBuffer");
    VkSubmitInfo info = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &b->commands};
    if (result == VK_SUCCESS) {
        result = vkQueueSubmit_(context->queue, 1, &info, b->fence);
        if (result != VK_SUCCESS) fail(context, result, "vkQueueSubmit");
    }
    b->recording = 0;
    b->submitted = result == VK_SUCCESS;
    context->current = (context->current + 1) % BATCHES;
    retire(context, &context->batches[context->current]);
}

static void wait_all(svk_context *context) {
    submit(context);
    for (int i = 0; i < BATCHES; i++) wait_for(context, &context->batches[i]);
    for (int i = 0; i < BATCHES; i++) retire(context, &context->batches[i]);
}

void svk_close(svk_context *context) {
    if (!context) return;
    if (context->device) {
        wait_all(context);
        vkDeviceWaitIdle_(context->device);
        for (int i = 0; i < BATCHES; i++) {
            batch *b = &context->batches[i];
            for (size_t j = 0; j < b->descriptor_pools.count; j++)
                vkDestroyDescriptorPool_(context->device, (VkDescriptorPool)b->descriptor_pools.items[j], NULL);
            free(b->descriptor_pools.items);
            free(b->released.items);
            if (b->fence) vkDestroyFence_(context->device, b->fence, NULL);
        }
        for (svk_pipeline *p = context->pipelines, *next; p; p = next) {
            next = p->next;
            vkDestroyPipeline_(context->device, p->pipeline, NULL);
            vkDestroyPipelineLayout_(context->device, p->layout, NULL);
            vkDestroyDescriptorSetLayout_(context->device, p->set_layout, NULL);
            free(p);
        }
        if (context->command_pool) vkDestroyCommandPool_(context->device, context->command_pool, NULL);
        vkDestroyDevice_(context->device, NULL);
    }
    pthread_mutex_destroy(&context->lock);
    free(context);
}

// MARK: Buffers

static svk_buffer *make_buffer(svk_context *context, uint64_t bytes, int host_visible, int readback) {
    bytes = (bytes + 15) & ~(uint64_t)15;
    if (bytes == 0) bytes = 16;
    svk_buffer *buffer = calloc(1, sizeof *buffer);
    if (!buffer) return NULL;
    VkBufferCreateInfo create = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    // A device buffer that cannot be made is not a sticky failure: the caller may release memory and
    // try again. A staging buffer that cannot be made fails the transfer.
    VkResult result = vkCreateBuffer_(context->device, &create, NULL, &buffer->buffer);
    if (result != VK_SUCCESS) {
        if (host_visible) fail(context, result, "vkCreateBuffer");
        free(buffer);
        return NULL;
    }
    VkMemoryRequirements requirements;
    vkGetBufferMemoryRequirements_(context->device, buffer->buffer, &requirements);
    uint32_t type = host_visible ? (readback ? context->readback_memory_type : context->staging_memory_type)
                                 : context->device_memory_type;
    if (!(requirements.memoryTypeBits & (1u << type))) {
        VkMemoryPropertyFlags flags = host_visible ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT : 0;
        VkPhysicalDeviceMemoryProperties memory;
        vkGetPhysicalDeviceMemoryProperties_(context->physical, &memory);
        for (type = 0; type < memory.memoryTypeCount; type++)
            if ((requirements.memoryTypeBits & (1u << type)) && (memory.memoryTypes[type].propertyFlags & flags) == flags) break;
    }
    VkMemoryAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = requirements.size, .memoryTypeIndex = type,
    };
    result = vkAllocateMemory_(context->device, &allocate, NULL, &buffer->memory);
    if (result == VK_SUCCESS) result = vkBindBufferMemory_(context->device, buffer->buffer, buffer->memory, 0);
    if (result == VK_SUCCESS && host_visible)
        result = vkMapMemory_(context->device, buffer->memory, 0, VK_WHOLE_SIZE, 0, &buffer->mapped);
    if (result != VK_SUCCESS) {
        if (host_visible) fail(context, result, "allocating a staging buffer");
        vkDestroyBuffer_(context->device, buffer->buffer, NULL);
        if (buffer->memory) vkFreeMemory_(context->device, buffer->memory, NULL);
        free(buffer);
        return NULL;
    }
    buffer->size = bytes;
    if (!host_visible) {
        context->allocated += bytes;
        if (context->allocated > context->peak) context->peak = context->allocated;
    }
    return buffer;
}

svk_buffer *svk_buffer_create(svk_context *context, uint64_t bytes) {
    pthread_mutex_lock(&context->lock);
    svk_buffer *buffer = make_buffer(context, bytes, 0, 0);
    pthread_mutex_unlock(&context->lock);
    return buffer;
}

void svk_buffer_destroy(svk_context *context, svk_buffer *buffer) {
    if (!buffer) return;
    pthread_mutex_lock(&context->lock);
    batch *b = &context->batches[context->current];
    int idle = !b->recording && !context->batches[(context->current + 1) % BATCHES].submitted;
    if (idle || list_append(&b->released, buffer) != 0) {
        if (!idle) wait_all(context);
        destroy_buffer_now(context, buffer);
    }
    pthread_mutex_unlock(&context->lock);
}

uint64_t svk_buffer_size(const svk_buffer *buffer) { return buffer->size; }

uint64_t svk_allocated_bytes(svk_context *context) { return context->allocated; }
uint64_t svk_peak_allocated_bytes(svk_context *context) { return context->peak; }

// MARK: Transfers

static void after_recording(svk_context *context, batch *b) {
    if (b->dispatches >= BATCH_DISPATCHES || b->staging_bytes >= BATCH_STAGING_BYTES) submit(context);
}

int svk_upload(svk_context *context, svk_buffer *buffer, uint64_t offset, const void *data, uint64_t bytes) {
    if (bytes == 0) return context->failure != VK_SUCCESS;
    pthread_mutex_lock(&context->lock);
    svk_buffer *staging = context->failure == VK_SUCCESS ? make_buffer(context, bytes, 1, 0) : NULL;
    if (staging) {
        memcpy(staging->mapped, data, bytes);
        batch *b = recording(context);
        VkBufferCopy region = {.srcOffset = 0, .dstOffset = offset, .size = bytes};
        vkCmdCopyBuffer_(b->commands, staging->buffer, buffer->buffer, 1, &region);
        full_barrier(b->commands);
        b->staging_bytes += bytes;
        if (list_append(&b->released, staging) != 0) fail(context, VK_ERROR_OUT_OF_HOST_MEMORY, "recording an upload");
        after_recording(context, b);
    }
    int status = context->failure != VK_SUCCESS;
    pthread_mutex_unlock(&context->lock);
    return status;
}

int svk_download(svk_context *context, svk_buffer *buffer, uint64_t offset, void *data, uint64_t bytes) {
    pthread_mutex_lock(&context->lock);
    svk_buffer *staging = context->failure == VK_SUCCESS && bytes > 0 ? make_buffer(context, bytes, 1, 1) : NULL;
    if (staging) {
        batch *b = recording(context);
        VkBufferCopy region = {.srcOffset = offset, .dstOffset = 0, .size = bytes};
        vkCmdCopyBuffer_(b->commands, buffer->buffer, staging->buffer, 1, &region);
        VkMemoryBarrier barrier = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
        };
        vkCmdPipelineBarrier_(b->commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                              NULL, 0, NULL);
        wait_all(context);
        if (context->failure == VK_SUCCESS) memcpy(data, staging->mapped, bytes);
        destroy_buffer_now(context, staging);
    } else if (context->failure == VK_SUCCESS) {
        wait_all(context);
    }
    int status = context->failure != VK_SUCCESS;
    pthread_mutex_unlock(&context->lock);
    return status;
}

// MARK: Pipelines and dispatches

svk_pipeline *svk_pipeline_create(svk_context *context, const void *spirv, size_t spirv_bytes, uint32_t bindings,
                                  uint32_t push_bytes, char *error, size_t error_size) {
    if (bindings > MAX_BINDINGS) {
        set_error(error, error_size, "a pipeline binds at most %d buffers", MAX_BINDINGS);
        return NULL;
    }
    svk_pipeline *pipeline = calloc(1, sizeof *pipeline);
    if (!pipeline) return NULL;
    pipeline->bindings = bindings;
    VkDescriptorSetLayoutBinding layout_bindings[MAX_BINDINGS];
    for (uint32_t i = 0; i < bindings; i++) {
        layout_bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo set_layout = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = bindings, .pBindings = layout_bindings,
    };
    VkPushConstantRange range = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = push_bytes};
    VkPipelineLayoutCreateInfo layout = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &pipeline->set_layout,
        .pushConstantRangeCount = push_bytes ? 1 : 0, .pPushConstantRanges = &range,
    };
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = spirv_bytes, .pCode = spirv,
    };
    VkShaderModule module = VK_NULL_HANDLE;
    VkResult result = vkCreateDescriptorSetLayout_(context->device, &set_layout, NULL, &pipeline->set_layout);
    if (result == VK_SUCCESS) result = vkCreatePipelineLayout_(context->device, &layout, NULL, &pipeline->layout);
    if (result == VK_SUCCESS) result = vkCreateShaderModule_(context->device, &module_info, NULL, &module);
    if (result == VK_SUCCESS) {
        VkComputePipelineCreateInfo create = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                      .module = module, .pName = "main"},
            .layout = pipeline->layout,
        };
        result = vkCreateComputePipelines_(context->device, VK_NULL_HANDLE, 1, &create, NULL, &pipeline->pipeline);
        vkDestroyShaderModule_(context->device, module, NULL);
    }
    if (result != VK_SUCCESS) {
        set_error(error, error_size, "cannot create a compute pipeline (VkResult %d)", result);
        if (pipeline->layout) vkDestroyPipelineLayout_(context->device, pipeline->layout, NULL);
        if (pipeline->set_layout) vkDestroyDescriptorSetLayout_(context->device, pipeline->set_layout, NULL);
        free(pipeline);
        return NULL;
    }
    pthread_mutex_lock(&context->lock);
    pipeline->next = context->pipelines;
    context->pipelines = pipeline;
    pthread_mutex_unlock(&context->lock);
    return pipeline;
}

static VkDescriptorSet allocate_set(svk_context *context, batch *b, svk_pipeline *pipeline) {
    if (b->descriptor_pools.count == 0 || b->sets_in_last_pool == DESCRIPTOR_POOL_SETS) {
        // A later pool of a retired batch is destroyed (retire keeps the first), so reuse only the first.
        VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = DESCRIPTOR_POOL_SETS * MAX_BINDINGS};
        VkDescriptorPoolCreateInfo create = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = DESCRIPTOR_POOL_SETS, .poolSizeCount = 1,
            .pPoolSizes = &size,
        };
        VkDescriptorPool pool;
        VkResult result = vkCreateDescriptorPool_(context->device, &create, NULL, &pool);
        if (result != VK_SUCCESS || list_append(&b->descriptor_pools, (void *)pool) != 0) {
            fail(context, result, "vkCreateDescriptorPool");
            return VK_NULL_HANDLE;
        }
        b->sets_in_last_pool = 0;
    }
    VkDescriptorPool pool = (VkDescriptorPool)b->descriptor_pools.items[b->descriptor_pools.count - 1];
    VkDescriptorSetAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = pool, .descriptorSetCount = 1,
        .pSetLayouts = &pipeline->set_layout,
    };
    VkDescriptorSet set;
    VkResult result = vkAllocateDescriptorSets_(context->device, &allocate, &set);
    if (result != VK_SUCCESS) {
        fail(context, result, "vkAllocateDescriptorSets");
        return VK_NULL_HANDLE;
    }
    b->sets_in_last_pool++;
    return set;
}

int svk_dispatch(svk_context *context, svk_pipeline *pipeline, svk_buffer *const *buffers, uint32_t buffer_count,
                 const void *push, uint32_t push_bytes, uint32_t groups_x, uint32_t groups_y, uint32_t groups_z) {
    pthread_mutex_lock(&context->lock);
    if (context->failure == VK_SUCCESS && buffer_count == pipeline->bindings && groups_x && groups_y && groups_z) {
        batch *b = recording(context);
        VkDescriptorSet set = allocate_set(context, b, pipeline);
        if (set != VK_NULL_HANDLE) {
            VkDescriptorBufferInfo infos[MAX_BINDINGS];
            VkWriteDescriptorSet writes[MAX_BINDINGS];
            for (uint32_t i = 0; i < buffer_count; i++) {
                infos[i] = (VkDescriptorBufferInfo){.buffer = buffers[i]->buffer, .offset = 0, .range = VK_WHOLE_SIZE};
                writes[i] = (VkWriteDescriptorSet){
                    .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set, .dstBinding = i, .descriptorCount = 1,
                    .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &infos[i],
                };
            }
            vkUpdateDescriptorSets_(context->device, buffer_count, writes, 0, NULL);
            vkCmdBindPipeline_(b->commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->pipeline);
            vkCmdBindDescriptorSets_(b->commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->layout, 0, 1, &set, 0, NULL);
            if (push_bytes) vkCmdPushConstants_(b->commands, pipeline->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
            vkCmdDispatch_(b->commands, groups_x, groups_y, groups_z);
            full_barrier(b->commands);
            b->dispatches++;
            after_recording(context, b);
        }
    } else if (context->failure == VK_SUCCESS && buffer_count != pipeline->bindings) {
        fail(context, VK_ERROR_UNKNOWN, "a dispatch bound the wrong number of buffers");
    }
    int status = context->failure != VK_SUCCESS;
    pthread_mutex_unlock(&context->lock);
    return status;
}

int svk_fill(svk_context *context, svk_buffer *buffer, uint64_t offset, uint64_t bytes, uint32_t pattern) {
    pthread_mutex_lock(&context->lock);
    if (context->failure == VK_SUCCESS && bytes > 0) {
        batch *b = recording(context);
        vkCmdFillBuffer_(b->commands, buffer->buffer, offset, bytes, pattern);
        full_barrier(b->commands);
    }
    int status = context->failure != VK_SUCCESS;
    pthread_mutex_unlock(&context->lock);
    return status;
}

int svk_copy(svk_context *context, svk_buffer *source, svk_buffer *target, const uint64_t *regions, uint32_t region_count) {
    pthread_mutex_lock(&context->lock);
    if (context->failure == VK_SUCCESS && region_count > 0) {
        batch *b = recording(context);
        VkBufferCopy *copies = malloc(region_count * sizeof *copies);
        if (!copies) {
            fail(context, VK_ERROR_OUT_OF_HOST_MEMORY, "recording a copy");
        } else {
            for (uint32_t i = 0; i < region_count; i++)
                copies[i] = (VkBufferCopy){.srcOffset = regions[3 * i], .dstOffset = regions[3 * i + 1], .size = regions[3 * i + 2]};
            vkCmdCopyBuffer_(b->commands, source->buffer, target->buffer, region_count, copies);
            full_barrier(b->commands);
            free(copies);
            b->dispatches++;
            after_recording(context, b);
        }
    }
    int status = context->failure != VK_SUCCESS;
    pthread_mutex_unlock(&context->lock);
    return status;
}

int svk_synchronize(svk_context *context) {
    pthread_mutex_lock(&context->lock);
    wait_all(context);
    int status = context->failure != VK_SUCCESS;
    pthread_mutex_unlock(&context->lock);
    return status;
}

const char *svk_error_message(svk_context *context) { return context->message; }

#else // no Vulkan headers at build time

static const char no_headers[] = "this build has no Vulkan support (built without the Vulkan headers, libvulkan-dev)";

int svk_load(char *error, size_t error_size) {
    if (error && error_size) snprintf(error, error_size, "%s", no_headers);
    return 1;
}
int svk_device_count(void) { return 0; }
int svk_device_info_get(int index, svk_device_info *info) { (void)index; (void)info; return 1; }
svk_context *svk_open(int index, char *error, size_t error_size) { (void)index; svk_load(error, error_size); return NULL; }
void svk_close(svk_context *context) { (void)context; }
svk_buffer *svk_buffer_create(svk_context *context, uint64_t bytes) { (void)context; (void)bytes; return NULL; }
void svk_buffer_destroy(svk_context *context, svk_buffer *buffer) { (void)context; (void)buffer; }
uint64_t svk_buffer_size(const svk_buffer *buffer) { (void)buffer; return 0; }
uint64_t svk_allocated_bytes(svk_context *context) { (void)context; return 0; }
uint64_t svk_peak_allocated_bytes(svk_context *context) { (void)context; return 0; }
int svk_upload(svk_context *c, svk_buffer *b, uint64_t o, const void *d, uint64_t n) { (void)c; (void)b; (void)o; (void)d; (void)n; return 1; }
int svk_download(svk_context *c, svk_buffer *b, uint64_t o, void *d, uint64_t n) { (void)c; (void)b; (void)o; (void)d; (void)n; return 1; }
svk_pipeline *svk_pipeline_create(svk_context *c, const void *s, size_t n, uint32_t b, uint32_t p, char *e, size_t es) {
    (void)c; (void)s; (void)n; (void)b; (void)p; svk_load(e, es); return NULL;
}
int svk_dispatch(svk_context *c, svk_pipeline *p, svk_buffer *const *b, uint32_t n, const void *pc, uint32_t pb,
                 uint32_t x, uint32_t y, uint32_t z) {
    (void)c; (void)p; (void)b; (void)n; (void)pc; (void)pb; (void)x; (void)y; (void)z; return 1;
}
int svk_fill(svk_context *c, svk_buffer *b, uint64_t o, uint64_t n, uint32_t p) { (void)c; (void)b; (void)o; (void)n; (void)p; return 1; }
int svk_copy(svk_context *c, svk_buffer *s, svk_buffer *t, const uint64_t *r, uint32_t n) { (void)c; (void)s; (void)t; (void)r; (void)n; return 1; }
int svk_synchronize(svk_context *context) { (void)context; return 1; }
const char *svk_error_message(svk_context *context) { (void)context; return no_headers; }

#endif
