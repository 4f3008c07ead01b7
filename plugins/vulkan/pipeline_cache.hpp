// Pipeline-cache blobs kept in the host's runtime cache, one per pipeline.
// The driver's VkPipelineCache bytes are wrapped in our own header:
//
//   magic "RTSVKPC1" | u32 header bytes | u32 vendorID | u32 deviceID |
//   u32 driverVersion | u8[16] pipelineCacheUUID | u64 FNV-1a of the key |
//   u64 payload bytes | u64 FNV-1a of the payload | payload
//
// Drivers are not required to survive garbage in vkCreatePipelineCache, so
// every field, the checksum and the driver's own header inside the payload
// are checked first; anything invalid is a miss and never reaches the
// driver.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "physical_device.hpp"

namespace rtscope::vulkan {

// Wraps `driver_bytes` (from vkGetPipelineCacheData) for `key`.
std::vector<uint8_t> encode_pipeline_cache(const PhysicalDevice& device, const std::string& key,
                                           std::span<const uint8_t> driver_bytes);

// The driver bytes of a valid blob for this device and key; otherwise
// nullopt with the reason in `reason`.
std::optional<std::vector<uint8_t>> decode_pipeline_cache(const PhysicalDevice& device,
                                                          const std::string& key,
                                                          std::span<const uint8_t> blob,
                                                          std::string& reason);

}  // namespace rtscope::vulkan
