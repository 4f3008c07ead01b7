#include "pipeline_cache.hpp"

#include <cstring>

#include "error.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/blob_io.hpp"

namespace rtscope::vulkan {
namespace {

constexpr char kMagic[8] = {'R', 'T', 'S', 'V', 'K', 'P', 'C', '1'};

struct Header {
  char magic[8];
  uint32_t header_bytes;
  uint32_t vendor_id;
  uint32_t device_id;
  uint32_t driver_version;
  uint8_t cache_uuid[VK_UUID_SIZE];
  uint64_t key_hash;
  uint64_t payload_bytes;
  uint64_t payload_hash;
};
static_assert(sizeof(Header) == 64, "the blob header has a fixed layout");

// VkPipelineCacheHeaderVersionOne as the driver writes it.
struct DriverHeader {
  uint32_t header_size;
  uint32_t header_version;
  uint32_t vendor_id;
  uint32_t device_id;
  uint8_t cache_uuid[VK_UUID_SIZE];
};
static_assert(sizeof(DriverHeader) == 32);

}  // namespace

std::vector<uint8_t> encode_pipeline_cache(const PhysicalDevice& device, const std::string& key,
                                           std::span<const uint8_t> driver_bytes) {
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.header_bytes = sizeof(Header);
  header.vendor_id = device.properties.vendorID;
  header.device_id = device.properties.deviceID;
  header.driver_version = device.properties.driverVersion;
  std::memcpy(header.cache_uuid, device.properties.pipelineCacheUUID, VK_UUID_SIZE);
  header.key_hash = fnv1a(key.data(), key.size());
  header.payload_bytes = driver_bytes.size();
  header.payload_hash = fnv1a(driver_bytes.data(), driver_bytes.size());
  std::vector<uint8_t> blob(sizeof(Header) + driver_bytes.size());
  std::memcpy(blob.data(), &header, sizeof(Header));
  if (!driver_bytes.empty()) {
    std::memcpy(blob.data() + sizeof(Header), driver_bytes.data(), driver_bytes.size());
  }
  return blob;
}

std::optional<std::vector<uint8_t>> decode_pipeline_cache(const PhysicalDevice& device,
                                                          const std::string& key,
                                                          std::span<const uint8_t> blob,
                                                          std::string& reason) {
  Header header;
  if (blob.size() < sizeof(Header)) {
    reason = str_cat("blob of ", blob.size(), " bytes is shorter than the ", sizeof(Header),
                     "-byte header");
    return std::nullopt;
  }
  std::memcpy(&header, blob.data(), sizeof(Header));
  const VkPhysicalDeviceProperties& properties = device.properties;
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) {
    reason = "bad magic (not an rtscope Vulkan pipeline-cache blob)";
  } else if (header.header_bytes != sizeof(Header)) {
    reason = str_cat("header size ", header.header_bytes, ", expected ", sizeof(Header));
  } else if (header.vendor_id != properties.vendorID || header.device_id != properties.deviceID) {
    reason = str_cat("made for vendor/device ", std::hex, header.vendor_id, "/", header.device_id,
                     ", this is ", properties.vendorID, "/", properties.deviceID);
  } else if (header.driver_version != properties.driverVersion) {
    reason = str_cat("made by driver version ", header.driver_version, ", this is ",
                     properties.driverVersion);
  } else if (std::memcmp(header.cache_uuid, properties.pipelineCacheUUID, VK_UUID_SIZE) != 0) {
    reason = "pipelineCacheUUID differs";
  } else if (header.key_hash != fnv1a(key.data(), key.size())) {
    reason = "stored under another key";
  } else if (header.payload_bytes != blob.size() - sizeof(Header)) {
    reason = str_cat("payload size ", header.payload_bytes, " but ", blob.size() - sizeof(Header),
                     " bytes follow the header");
  } else if (header.payload_hash !=
             fnv1a(blob.data() + sizeof(Header), blob.size() - sizeof(Header))) {
    reason = "payload checksum mismatch";
  }
  if (!reason.empty()) return std::nullopt;

  std::vector<uint8_t> payload(blob.begin() + sizeof(Header), blob.end());
  // The driver's own header must describe this device too.
  DriverHeader driver{};
  if (payload.size() < sizeof(DriverHeader)) {
    reason = str_cat("driver data of ", payload.size(), " bytes has no pipeline-cache header");
    return std::nullopt;
  }
  std::memcpy(&driver, payload.data(), sizeof(DriverHeader));
  if (driver.header_size < sizeof(DriverHeader) || driver.header_size > payload.size() ||
      driver.header_version != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
      driver.vendor_id != properties.vendorID || driver.device_id != properties.deviceID ||
      std::memcmp(driver.cache_uuid, properties.pipelineCacheUUID, VK_UUID_SIZE) != 0) {
    reason = "the driver's pipeline-cache header does not match this device";
    return std::nullopt;
  }
  return payload;
}

}  // namespace rtscope::vulkan
