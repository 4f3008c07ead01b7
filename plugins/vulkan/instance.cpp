#include "instance.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "error.hpp"

namespace rtscope::vulkan {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool has_layer(const char* name) {
  uint32_t count = 0;
  if (vkEnumerateInstanceLayerProperties(&count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkLayerProperties> layers(count);
  if (vkEnumerateInstanceLayerProperties(&count, layers.data()) != VK_SUCCESS) return false;
  return std::any_of(layers.begin(), layers.end(), [name](const VkLayerProperties& layer) {
    return std::strcmp(layer.layerName, name) == 0;
  });
}

// Whether the loader, or `layer` when given, offers instance extension `name`.
bool has_extension(const char* layer, const char* name) {
  uint32_t count = 0;
  if (vkEnumerateInstanceExtensionProperties(layer, &count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> extensions(count);
  if (vkEnumerateInstanceExtensionProperties(layer, &count, extensions.data()) != VK_SUCCESS) {
    return false;
  }
  return std::any_of(extensions.begin(), extensions.end(), [name](const VkExtensionProperties& e) {
    return std::strcmp(e.extensionName, name) == 0;
  });
}

// NVIDIA's driver libraries use static TLS, which glibc does not give back
// when a library is unloaded. The loader loads the driver at each
// vkCreateInstance and unloads it at the matching vkDestroyInstance, so a
// process that loads this plugin again and again (a test suite) runs out
// after a few dozen rounds ("cannot allocate memory in static TLS block").
// The first time a driver is found, one extra instance is kept for the life
// of the process, and this plugin is pinned in memory (RTLD_NODELETE) so
// the loader it links stays loaded too: the driver is then loaded once.
// The keeper is made when the first instance is destroyed (creating one
// costs milliseconds on NVIDIA, which a start should not pay), or at once
// with RTSCOPE_VULKAN_KEEPER=start.
void keep_driver_loaded(uint32_t api_version) {
  static std::once_flag once;
  std::call_once(once, [api_version] {
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&keep_driver_loaded), &self) != 0 &&
        self.dli_fname != nullptr) {
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
    auto application = vk_struct<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
    application.pApplicationName = "rtscope driver keeper";
    application.apiVersion = api_version;
    auto info = vk_struct<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
    info.pApplicationInfo = &application;
    VkInstance keeper = VK_NULL_HANDLE;
    vkCreateInstance(&info, nullptr, &keeper);  // never destroyed, on purpose
  });
}

bool keeper_at_start() {
  const char* when = std::getenv("RTSCOPE_VULKAN_KEEPER");
  return when != nullptr && std::strcmp(when, "start") == 0;
}

std::string version_str(uint32_t version) {
  return str_cat(VK_API_VERSION_MAJOR(version), ".", VK_API_VERSION_MINOR(version), ".",
                 VK_API_VERSION_PATCH(version));
}

}  // namespace

Instance::Instance(LogFn log, bool validation, std::atomic<uint64_t>& validation_errors)
    : log_(std::move(log)), validation_errors_(validation_errors) {
  // vkEnumerateInstanceVersion is absent from 1.0 loaders.
  auto enumerate_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(
      vkGetInstanceProcAddr(nullptr, "vkEnumerateInstanceVersion"));
  uint32_t loader_version = VK_API_VERSION_1_0;
  if (enumerate_version != nullptr) {
    check_vk(enumerate_version(&loader_version), "vkEnumerateInstanceVersion");
  }
  if (loader_version < VK_API_VERSION_1_1) {
    fail(RTS_ERROR_DEVICE, "no Vulkan device: the Vulkan loader supports only version ",
         version_str(loader_version), ", the plugin needs 1.1");
  }
  api_version_ = std::min<uint32_t>(loader_version, VK_API_VERSION_1_3);

  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  if (validation) {
    if (has_layer(kValidationLayer)) {
      layers.push_back(kValidationLayer);
      validation_enabled_ = true;
      if (has_extension(nullptr, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
          has_extension(kValidationLayer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
      } else {
        log_(RTS_LOG_WARN,
             "vulkan: VK_EXT_debug_utils is unavailable; validation messages go to the layer's "
             "default output and are not counted");
      }
    } else {
      log_(RTS_LOG_WARN, str_cat("vulkan: RTSCOPE_VULKAN_VALIDATION=1 but ", kValidationLayer,
                                 " is not installed (Debian: vulkan-validationlayers); running "
                                 "without validation"));
    }
  }
  const bool messenger = !extensions.empty();

  auto application = vk_struct<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  application.pApplicationName = "rtscope";
  application.pEngineName = "rtscope-vulkan-plugin";
  application.apiVersion = api_version_;

  // Chained into vkCreateInstance as well, so messages about instance
  // creation and destruction are routed too.
  auto messenger_info = vk_struct<VkDebugUtilsMessengerCreateInfoEXT>(
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
  messenger_info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = &Instance::on_message;
  messenger_info.pUserData = this;

  auto info = vk_struct<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  info.pNext = messenger ? &messenger_info : nullptr;
  info.pApplicationInfo = &application;
  info.enabledLayerCount = static_cast<uint32_t>(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  const VkResult created = vkCreateInstance(&info, nullptr, &instance_);
  if (created == VK_ERROR_INCOMPATIBLE_DRIVER) {
    fail(RTS_ERROR_DEVICE,
         "no Vulkan device: vkCreateInstance found no Vulkan driver (VK_ERROR_INCOMPATIBLE_DRIVER; "
         "install a driver, e.g. mesa-vulkan-drivers for the lavapipe CPU device)");
  }
  check_vk(created, "vkCreateInstance");
  if (keeper_at_start()) keep_driver_loaded(api_version_);

  if (messenger) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    if (create == nullptr) {
      vkDestroyInstance(instance_, nullptr);
      fail(RTS_ERROR_DEVICE,
           "vulkan: vkCreateDebugUtilsMessengerEXT is missing although "
           "VK_EXT_debug_utils is enabled");
    }
    const VkResult result = create(instance_, &messenger_info, nullptr, &messenger_);
    if (result != VK_SUCCESS) {
      vkDestroyInstance(instance_, nullptr);
      check_vk(result, "vkCreateDebugUtilsMessengerEXT");
    }
  }
  log_(RTS_LOG_DEBUG, str_cat("vulkan: instance API ", version_str(api_version_), " (loader ",
                              version_str(loader_version), ")",
                              validation_enabled_ ? ", validation layer on" : ""));
}

Instance::~Instance() {
  if (messenger_ != VK_NULL_HANDLE) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy != nullptr) destroy(instance_, messenger_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) {
    // Before the driver's last instance goes (see keep_driver_loaded).
    keep_driver_loaded(api_version_);
    vkDestroyInstance(instance_, nullptr);
  }
}

std::vector<VkPhysicalDevice> Instance::physical_devices() const {
  uint32_t count = 0;
  check_vk(vkEnumeratePhysicalDevices(instance_, &count, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devices(count);
  if (count > 0) {
    const VkResult result = vkEnumeratePhysicalDevices(instance_, &count, devices.data());
    if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
      check_vk(result, "vkEnumeratePhysicalDevices");
    }
    devices.resize(count);
  }
  return devices;
}

VKAPI_ATTR VkBool32 VKAPI_CALL Instance::on_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* self = static_cast<Instance*>(user);
  const bool error = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) != 0;
  const bool validation = (types & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT) != 0;
  // Only validation errors count: loader messages (GENERAL) are about the
  // installation, not about this plugin's API usage.
  if (error && validation) self->validation_errors_.fetch_add(1, std::memory_order_relaxed);
  const char* id = data != nullptr && data->pMessageIdName != nullptr ? data->pMessageIdName : "";
  const char* text = data != nullptr && data->pMessage != nullptr ? data->pMessage : "";
  try {
    self->log_(error ? RTS_LOG_ERROR : RTS_LOG_WARN,
               str_cat("vulkan ", validation ? "validation" : "loader", ": ", id, ": ", text));
  } catch (...) {
    // Never throw into the driver.
  }
  return VK_FALSE;  // the call that triggered the message proceeds
}

}  // namespace rtscope::vulkan
