// Probe: what a chain of dependent decode-step products costs when its
// stages meet at pipeline barriers, at device counters inside one
// persistent dispatch, or not at all (persistent_chain.comp). Raw Vulkan,
// so that nothing but the waits differs between the forms.
//
//   persistent_chain SPIRV [--small] [--groups G,G,...] [--iterations N]
//
// Prints, per form, the device time of the chain (median and best over
// the iterations) and its weight bytes per second, and whether its outputs
// equal the barrier form's bit for bit (the no-barrier form's need not).
#include <vulkan/vulkan.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void check(VkResult result, const char *what) {
  if (result != VK_SUCCESS) {
    throw std::runtime_error(std::string(what) +
                             " failed: " + std::to_string(result));
  }
}

struct Stage {
  uint32_t n, k, gated, w, u, in_at, out_at, unused;
};

struct Shape {
  uint32_t layers, d_model, ffn, vocab;
};

uint16_t to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int exponent = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  const uint32_t mantissa = x & 0x7fffffu;
  if (exponent <= 0)
    return static_cast<uint16_t>(sign);
  if (exponent >= 31)
    return static_cast<uint16_t>(sign | 0x7c00u);
  return static_cast<uint16_t>(sign | (exponent << 10) | (mantissa >> 13));
}

float from_half(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t x = sign;
  if (exponent != 0)
    x |= ((exponent - 15 + 127) << 23) | (mantissa << 13);
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void *mapped = nullptr;
};

class Probe {
public:
  explicit Probe(const std::vector<uint32_t> &spirv) {
    auto app = VkApplicationInfo{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_1;
    auto info = VkInstanceCreateInfo{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pApplicationInfo = &app;
    check(vkCreateInstance(&info, nullptr, &instance_), "vkCreateInstance");
    uint32_t count = 0;
    vkEnumeratePhysicalDevices(instance_, &count, nullptr);
    std::vector<VkPhysicalDevice> devices(count);
    vkEnumeratePhysicalDevices(instance_, &count, devices.data());
    if (devices.empty())
      throw std::runtime_error("no Vulkan device");
    physical_ = devices[0];
    for (VkPhysicalDevice d : devices) {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties(d, &p);
      if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
        physical_ = d;
    }
    vkGetPhysicalDeviceProperties(physical_, &properties_);
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &count,
                                             families.data());
    for (uint32_t i = 0; i < count; ++i) {
      if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        family_ = i;
        break;
      }
    }
    const float priority = 1.0f;
    auto queue_info =
        VkDeviceQueueCreateInfo{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue_info.queueFamilyIndex = family_;
    queue_info.queueCount = 1;
    queue_info.pQueuePriorities = &priority;
    // The compiled pipeline's statistics (registers, shared memory), where
    // the driver reports them.
    uint32_t extension_count = 0;
    vkEnumerateDeviceExtensionProperties(physical_, nullptr, &extension_count,
                                         nullptr);
    std::vector<VkExtensionProperties> extensions(extension_count);
    vkEnumerateDeviceExtensionProperties(physical_, nullptr, &extension_count,
                                         extensions.data());
    for (const VkExtensionProperties &e : extensions) {
      if (std::strcmp(e.extensionName,
                      VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME) ==
          0) {
        statistics_ = true;
      }
    }
    auto executable_features =
        VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
    executable_features.pipelineExecutableInfo = VK_TRUE;
    const char *extension_names[] = {
        VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME};
    auto device_info = VkDeviceCreateInfo{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    device_info.queueCreateInfoCount = 1;
    device_info.pQueueCreateInfos = &queue_info;
    if (statistics_) {
      device_info.pNext = &executable_features;
      device_info.enabledExtensionCount = 1;
      device_info.ppEnabledExtensionNames = extension_names;
    }
    check(vkCreateDevice(physical_, &device_info, nullptr, &device_),
          "vkCreateDevice");
    vkGetDeviceQueue(device_, family_, 0, &queue_);

    auto pool_info =
        VkCommandPoolCreateInfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool_info.queueFamilyIndex = family_;
    check(vkCreateCommandPool(device_, &pool_info, nullptr, &pool_),
          "vkCreateCommandPool");
    auto alloc = VkCommandBufferAllocateInfo{
        VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = pool_;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(device_, &alloc, &commands_),
          "vkAllocateCommandBuffers");
    auto fence_info = VkFenceCreateInfo{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(vkCreateFence(device_, &fence_info, nullptr, &fence_),
          "vkCreateFence");
    auto query_info =
        VkQueryPoolCreateInfo{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    query_info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    query_info.queryCount = 2;
    check(vkCreateQueryPool(device_, &query_info, nullptr, &queries_),
          "vkCreateQueryPool");

    VkDescriptorSetLayoutBinding bindings[4] = {};
    for (uint32_t i = 0; i < 4; ++i) {
      bindings[i].binding = i;
      bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[i].descriptorCount = 1;
      bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    auto layout_info = VkDescriptorSetLayoutCreateInfo{
        VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    layout_info.bindingCount = 4;
    layout_info.pBindings = bindings;
    check(vkCreateDescriptorSetLayout(device_, &layout_info, nullptr,
                                      &set_layout_),
          "vkCreateDescriptorSetLayout");
    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, 16};
    auto pipeline_layout_info = VkPipelineLayoutCreateInfo{
        VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pipeline_layout_info.setLayoutCount = 1;
    pipeline_layout_info.pSetLayouts = &set_layout_;
    pipeline_layout_info.pushConstantRangeCount = 1;
    pipeline_layout_info.pPushConstantRanges = &push;
    check(vkCreatePipelineLayout(device_, &pipeline_layout_info, nullptr,
                                 &pipeline_layout_),
          "vkCreatePipelineLayout");
    auto module_info =
        VkShaderModuleCreateInfo{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    module_info.codeSize = spirv.size() * 4;
    module_info.pCode = spirv.data();
    check(vkCreateShaderModule(device_, &module_info, nullptr, &module_),
          "vkCreateShaderModule");
  }

  // The shader built for workgroups of `wg` invocations and `in_flight`
  // weight loads per invocation and row; the current pipeline from now on.
  void use_pipeline(uint32_t wg, uint32_t in_flight, uint32_t spread,
                    uint32_t flat, uint32_t wait_rounds, uint32_t pre) {
    const uint32_t values[6] = {wg, in_flight, spread, flat, wait_rounds, pre};
    const VkSpecializationMapEntry entries[6] = {
        {0, 0, 4}, {1, 4, 4}, {2, 8, 4}, {3, 12, 4}, {4, 16, 4}, {5, 20, 4}};
    VkSpecializationInfo specialization{6, entries, sizeof(values), values};
    auto pipeline_info = VkComputePipelineCreateInfo{
        VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pipeline_info.stage.sType =
        VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pipeline_info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pipeline_info.stage.module = module_;
    pipeline_info.stage.pName = "main";
    pipeline_info.stage.pSpecializationInfo = &specialization;
    pipeline_info.layout = pipeline_layout_;
    if (statistics_)
      pipeline_info.flags = VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
    check(vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &pipeline_info,
                                   nullptr, &pipeline_),
          "vkCreateComputePipelines");
    if (statistics_)
      print_statistics();
  }

  void print_statistics() {
    auto get = reinterpret_cast<PFN_vkGetPipelineExecutableStatisticsKHR>(
        vkGetDeviceProcAddr(device_, "vkGetPipelineExecutableStatisticsKHR"));
    if (get == nullptr)
      return;
    auto info = VkPipelineExecutableInfoKHR{
        VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    info.pipeline = pipeline_;
    info.executableIndex = 0;
    uint32_t count = 0;
    if (get(device_, &info, &count, nullptr) != VK_SUCCESS)
      return;
    std::vector<VkPipelineExecutableStatisticKHR> stats(
        std::min<uint32_t>(count, 64),
        VkPipelineExecutableStatisticKHR{
            VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
    count = static_cast<uint32_t>(stats.size());
    if (get(device_, &info, &count, stats.data()) < 0)
      return;
    for (uint32_t i = 0; i < count; ++i) {
      const auto &st = stats[i];
      if (st.format == VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR) {
        std::printf("pipeline: %s %llu\n", st.name,
                    static_cast<unsigned long long>(st.value.u64));
      } else if (st.format ==
                 VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR) {
        std::printf("pipeline: %s %lld\n", st.name,
                    static_cast<long long>(st.value.i64));
      }
    }
  }

  const VkPhysicalDeviceProperties &properties() const { return properties_; }

  Buffer make_buffer(VkDeviceSize size, bool host) {
    Buffer b;
    b.size = size;
    auto info = VkBufferCreateInfo{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = size;
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    check(vkCreateBuffer(device_, &info, nullptr, &b.buffer), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, b.buffer, &req);
    const VkMemoryPropertyFlags want =
        host ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                   VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
             : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
      if ((req.memoryTypeBits & (1u << i)) &&
          (memory_.memoryTypes[i].propertyFlags & want) == want) {
        type = i;
        break;
      }
    }
    if (type == UINT32_MAX)
      throw std::runtime_error("no memory type");
    auto alloc = VkMemoryAllocateInfo{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = type;
    check(vkAllocateMemory(device_, &alloc, nullptr, &b.memory),
          "vkAllocateMemory");
    check(vkBindBufferMemory(device_, b.buffer, b.memory, 0),
          "vkBindBufferMemory");
    if (host)
      check(vkMapMemory(device_, b.memory, 0, size, 0, &b.mapped),
            "vkMapMemory");
    return b;
  }

  void begin() {
    check(vkResetCommandBuffer(commands_, 0), "vkResetCommandBuffer");
    auto info =
        VkCommandBufferBeginInfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(commands_, &info), "vkBeginCommandBuffer");
  }

  void submit_and_wait() {
    check(vkEndCommandBuffer(commands_), "vkEndCommandBuffer");
    auto submit = VkSubmitInfo{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &commands_;
    check(vkQueueSubmit(queue_, 1, &submit, fence_), "vkQueueSubmit");
    check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX),
          "vkWaitForFences");
    check(vkResetFences(device_, 1, &fence_), "vkResetFences");
  }

  void copy(const Buffer &from, VkDeviceSize from_at, const Buffer &to,
            VkDeviceSize to_at, VkDeviceSize size) {
    begin();
    VkBufferCopy region{from_at, to_at, size};
    vkCmdCopyBuffer(commands_, from.buffer, to.buffer, 1, &region);
    submit_and_wait();
  }

  void barrier(VkPipelineStageFlags from, VkPipelineStageFlags to) {
    auto b = VkMemoryBarrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(commands_, from, to, 0, 1, &b, 0, nullptr, 0, nullptr);
  }

  VkDescriptorSet make_set(const Buffer *buffers) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 4};
    auto pool_info = VkDescriptorPoolCreateInfo{
        VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pool_info.maxSets = 1;
    pool_info.poolSizeCount = 1;
    pool_info.pPoolSizes = &size;
    VkDescriptorPool pool;
    check(vkCreateDescriptorPool(device_, &pool_info, nullptr, &pool),
          "vkCreateDescriptorPool");
    auto alloc = VkDescriptorSetAllocateInfo{
        VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    alloc.descriptorPool = pool;
    alloc.descriptorSetCount = 1;
    alloc.pSetLayouts = &set_layout_;
    VkDescriptorSet set;
    check(vkAllocateDescriptorSets(device_, &alloc, &set),
          "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo infos[4];
    VkWriteDescriptorSet writes[4];
    for (uint32_t i = 0; i < 4; ++i) {
      infos[i] = {buffers[i].buffer, 0, VK_WHOLE_SIZE};
      writes[i] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[i].dstSet = set;
      writes[i].dstBinding = i;
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vkUpdateDescriptorSets(device_, 4, writes, 0, nullptr);
    return set;
  }

  VkCommandBuffer commands() const { return commands_; }
  VkPipeline pipeline() const { return pipeline_; }
  VkPipelineLayout pipeline_layout() const { return pipeline_layout_; }
  VkQueryPool queries() const { return queries_; }

  // Device time between the two timestamps of the last submit, in µs.
  double elapsed_us() {
    uint64_t stamps[2];
    check(vkGetQueryPoolResults(
              device_, queries_, 0, 2, sizeof(stamps), stamps, 8,
              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
    return static_cast<double>(stamps[1] - stamps[0]) *
           properties_.limits.timestampPeriod / 1e3;
  }

private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties properties_{};
  VkPhysicalDeviceMemoryProperties memory_{};
  uint32_t family_ = 0;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer commands_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  bool statistics_ = false;
};

std::vector<Stage> make_stages(const Shape &s, uint64_t &weight_vectors,
                               uint32_t &floats) {
  std::vector<Stage> stages;
  uint64_t w = 0;
  uint32_t at = 0;
  const uint32_t input = at;
  at += s.d_model;
  uint32_t in = input;
  auto add = [&](uint32_t n, uint32_t k, bool gated) {
    Stage st{n, k, gated ? 1u : 0u, static_cast<uint32_t>(w), 0, in, at, 0};
    w += uint64_t{n} * k / 8;
    if (gated) {
      st.u = static_cast<uint32_t>(w);
      w += uint64_t{n} * k / 8;
    }
    stages.push_back(st);
    in = at;
    at += n;
  };
  for (uint32_t l = 0; l < s.layers; ++l) {
    add(3 * s.d_model, s.d_model,
        false); // q/k/v; the output projection reads its first d_model
    add(s.d_model, s.d_model, false);
    add(s.ffn, s.d_model, true);
    add(s.d_model, s.ffn, false);
  }
  add(s.vocab, s.d_model, false);
  weight_vectors = w;
  floats = at;
  return stages;
}

// The chain in float64, from the same f16 weights and input, each stage's
// input rounded to f16 as the shader stages it.
std::vector<double> reference(const std::vector<Stage> &stages,
                              const std::vector<uint16_t> &w,
                              const std::vector<float> &input,
                              uint32_t floats) {
  std::vector<double> act(floats, 0.0);
  for (size_t i = 0; i < input.size(); ++i)
    act[i] = input[i];
  for (const Stage &st : stages) {
    for (uint32_t r = 0; r < st.n; ++r) {
      double g = 0, u = 0;
      for (uint32_t c = 0; c < st.k; ++c) {
        const double x = static_cast<float>(
            static_cast<_Float16>(static_cast<float>(act[st.in_at + c])));
        g += from_half(w[uint64_t{st.w} * 8 + uint64_t{r} * st.k + c]) * x;
        if (st.gated)
          u += from_half(w[uint64_t{st.u} * 8 + uint64_t{r} * st.k + c]) * x;
      }
      act[st.out_at + r] = st.gated ? g / (1.0 + std::exp(-g)) * u : g;
    }
  }
  return act;
}

} // namespace

int main(int argc, char **argv) try {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s SPIRV [--small] [--groups G,...] [--variant "
                 "WG:IN_FLIGHT:G,...]... [--iterations N]\n",
                 argv[0]);
    return 2;
  }
  Shape shape{8, 2048, 8192, 32000};
  std::vector<uint32_t> group_counts;
  struct Variant {
    uint32_t wg, in_flight;
    std::vector<uint32_t> groups;
    uint32_t spread = 0;
    uint32_t flat = 0;
    uint32_t pre = 0;
  };
  std::vector<Variant> variants;
  int iterations = 100;
  bool small = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--small") {
      small = true;
      shape = {2, 256, 1024, 1000};
    } else if (arg == "--groups" && i + 1 < argc) {
      for (char *p = argv[++i]; *p;) {
        group_counts.push_back(static_cast<uint32_t>(std::strtoul(p, &p, 10)));
        if (*p == ',')
          ++p;
      }
    } else if (arg == "--variant" && i + 1 < argc) {
      // WG:IN_FLIGHT:G,G,...[:sf] (s: rows dealt to workgroups in turn;
      // f: the flat product; p: the span product)
      Variant v{};
      char *p = argv[++i];
      v.wg = static_cast<uint32_t>(std::strtoul(p, &p, 10));
      if (*p == ':')
        ++p;
      v.in_flight = static_cast<uint32_t>(std::strtoul(p, &p, 10));
      if (*p == ':')
        ++p;
      while (*p) {
        v.groups.push_back(static_cast<uint32_t>(std::strtoul(p, &p, 10)));
        if (*p == ',')
          ++p;
        else if (*p)
          break;
      }
      if (*p == ':') {
        for (++p; *p == 's' || *p == 'f' || *p == 'p'; ++p) {
          if (*p == 's')
            v.spread = 1;
          if (*p == 'f')
            v.flat = 1;
          if (*p == 'p')
            v.flat = 2;
        }
        // p then a count: the span product with that many chunks (and as
        // many more) sent for before each wait.
        if (v.flat == 2 && *p >= '0' && *p <= '9')
          v.pre = static_cast<uint32_t>(std::strtoul(p, &p, 10));
      }
      if (*p) {
        std::fprintf(stderr, "bad --variant %s\n", argv[i]);
        return 2;
      }
      if (v.wg == 0 || v.wg % 32 || v.in_flight == 0) {
        std::fprintf(stderr, "bad --variant %s\n", argv[i]);
        return 2;
      }
      variants.push_back(v);
    } else if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  std::ifstream file(argv[1], std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                          std::istreambuf_iterator<char>());
  if (bytes.empty() || bytes.size() % 4)
    throw std::runtime_error("bad SPIR-V file");
  std::vector<uint32_t> spirv(bytes.size() / 4);
  std::memcpy(spirv.data(), bytes.data(), bytes.size());

  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Probe probe(spirv);
  std::printf("device: %s\n", probe.properties().deviceName);
  uint64_t weight_vectors = 0;
  uint32_t floats = 0;
  const std::vector<Stage> stages = make_stages(shape, weight_vectors, floats);
  const uint32_t stage_count = static_cast<uint32_t>(stages.size());
  const double weight_bytes = static_cast<double>(weight_vectors) * 16;
  std::printf("stages %u, weights %.1f MB\n", stage_count, weight_bytes / 1e6);

  Buffer weights = probe.make_buffer(weight_vectors * 16, false);
  Buffer act = probe.make_buffer(uint64_t{floats} * 4, false);
  Buffer table = probe.make_buffer(stages.size() * sizeof(Stage), false);
  // One counter per stage, the count of waits that gave up, the ticket.
  Buffer counters = probe.make_buffer((uint64_t{stage_count} + 2) * 4, false);
  const VkDeviceSize staging_size = 64u << 20;
  Buffer staging = probe.make_buffer(staging_size, true);

  // Weights uniform in ±1/sqrt(K) of their stage, so activations stay near 1.
  std::mt19937 rng(7);
  std::vector<uint16_t> host_weights(small ? weight_vectors * 8 : 0);
  VkDeviceSize done = 0;
  size_t stage_index = 0;
  while (done < weights.size) {
    const VkDeviceSize chunk = std::min(staging_size, weights.size - done);
    auto *h = static_cast<uint16_t *>(staging.mapped);
    for (VkDeviceSize i = 0; i < chunk / 2; ++i) {
      const uint64_t element = done / 2 + i;
      while (stage_index + 1 < stages.size() &&
             element >= uint64_t{stages[stage_index + 1].w} * 8) {
        ++stage_index;
      }
      const float bound =
          1.7f / std::sqrt(static_cast<float>(stages[stage_index].k));
      const float value =
          (static_cast<float>(rng() >> 8) / 16777216.0f * 2 - 1) * bound;
      h[i] = to_half(value);
      if (small)
        host_weights[element] = h[i];
    }
    probe.copy(staging, 0, weights, done, chunk);
    done += chunk;
  }
  std::vector<float> input(shape.d_model);
  for (float &x : input)
    x = static_cast<float>(rng() >> 8) / 16777216.0f * 2 - 1;
  // Every form starts from the input and zeros, so that its first
  // execute's outputs are its own (the later ones recompute the same
  // values over the last, whatever the order).
  std::vector<float> initial(floats, 0.0f);
  std::copy(input.begin(), input.end(), initial.begin());
  auto reset_activations = [&] {
    std::memcpy(staging.mapped, initial.data(), act.size);
    probe.copy(staging, 0, act, 0, act.size);
  };
  std::memcpy(staging.mapped, stages.data(), table.size);
  probe.copy(staging, 0, table, 0, table.size);
  const Buffer set_buffers[4] = {weights, act, table, counters};
  const VkDescriptorSet set = probe.make_set(set_buffers);

  struct Form {
    std::string name;
    uint32_t groups; // 0: one dispatch per stage
    bool barriers;
    bool prefetch;
    bool waits = true;
    uint32_t stage_groups =
        0; // one dispatch per stage: 0, a row per subgroup; else this many
    bool tickets = false;
  };
  if (variants.empty())
    variants.push_back({256, 8, group_counts});
  VkCommandBuffer cb = probe.commands();
  for (const Variant &variant : variants) {
    // Each variant's first form is its reference: the flat product adds in
    // another order than a row per subgroup.
    std::vector<float> expected;
    std::printf(
        "workgroups of %u, %u loads in flight per invocation and row%s%s\n",
        variant.wg, variant.in_flight,
        variant.spread ? ", rows dealt in turn" : "",
        variant.flat == 2 ? ", span product"
        : variant.flat    ? ", flat product"
                          : "");
    probe.use_pipeline(variant.wg, variant.in_flight, variant.spread,
                       variant.flat, small ? 16384 : 16, variant.pre);
    const std::string tag =
        std::to_string(variant.wg) + "/" + std::to_string(variant.in_flight) +
        (variant.spread ? "s" : "") +
        (variant.flat == 2 ? "p"
         : variant.flat    ? "f"
                           : "") +
        (variant.pre ? std::to_string(variant.pre) : "") + " ";
    std::vector<Form> forms = {
        {tag + "barriers", 0, true, false},
        {tag + "no barriers (results wrong)", 0, false, false}};
    for (uint32_t g : variant.groups) {
      const std::string gs = tag + std::to_string(g) + " workgroups";
      forms.push_back({gs + " per stage, barriers", 0, true, true, true, g});
      forms.push_back({gs + ", persistent, no waits (results wrong)", g, false,
                       true, false});
      forms.push_back({gs + ", persistent", g, false, false});
      forms.push_back(
          {gs + ", persistent, weights before the wait", g, false, true});
      if (variant.flat)
        continue; // the ticket form streams a row per subgroup
      forms.push_back({gs + ", tickets", g, false, false, true, 0, true});
      forms.push_back({gs + ", tickets, weights before the wait", g, false,
                       true, true, 0, true});
    }
    for (const Form &form : forms) {
      std::vector<double> times;
      std::vector<float> out(floats);
      reset_activations();
      for (int it = 0; it < iterations + 10; ++it) {
        probe.begin();
        vkCmdResetQueryPool(cb, probe.queries(), 0, 2);
        vkCmdFillBuffer(cb, counters.buffer, 0, VK_WHOLE_SIZE, 0);
        probe.barrier(VK_PIPELINE_STAGE_TRANSFER_BIT |
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
        vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, probe.pipeline());
        vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE,
                                probe.pipeline_layout(), 0, 1, &set, 0,
                                nullptr);
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                            probe.queries(), 0);
        if (form.groups != 0) {
          const uint32_t push[4] = {0, stage_count,
                                    form.tickets ? 4u
                                    : form.waits ? 1u
                                                 : 3u,
                                    form.prefetch ? 1u : 0u};
          vkCmdPushConstants(cb, probe.pipeline_layout(),
                             VK_SHADER_STAGE_COMPUTE_BIT, 0, 16, push);
          vkCmdDispatch(cb, form.groups, 1, 1);
        } else {
          for (uint32_t s = 0; s < stage_count; ++s) {
            if (s > 0 && form.barriers) {
              probe.barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
            }
            const uint32_t push[4] = {s, 1, 0, form.prefetch ? 1u : 0u};
            vkCmdPushConstants(cb, probe.pipeline_layout(),
                               VK_SHADER_STAGE_COMPUTE_BIT, 0, 16, push);
            // One row per subgroup of 32 lanes (fewer lanes: rows loop).
            const uint32_t rows = variant.wg / 32;
            vkCmdDispatch(cb,
                          form.stage_groups != 0
                              ? form.stage_groups
                              : (stages[s].n + rows - 1) / rows,
                          1, 1);
          }
        }
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                            probe.queries(), 1);
        probe.submit_and_wait();
        if (it >= 10)
          times.push_back(probe.elapsed_us());
        if (it > 0)
          continue;
        probe.copy(counters, uint64_t{stage_count} * 4, staging, 0, 4);
        uint32_t gave_up = 0;
        std::memcpy(&gave_up, staging.mapped, 4);
        if (form.groups != 0 && form.waits) {
          std::printf("%-58s first execute: %u waits gave up\n",
                      form.name.c_str(), gave_up);
        }
        probe.copy(act, 0, staging, 0, act.size);
        std::memcpy(out.data(), staging.mapped, act.size);
        // A persistent form whose workgroups are not all resident at once
        // waits out its bound at every stage: stop after one execute.
        if (form.groups != 0 && form.waits && !expected.empty() &&
            std::memcmp(out.data(), expected.data(), act.size) != 0) {
          break;
        }
      }
      if (times.empty()) {
        std::printf("%-58s first execute DIFFERENT: not timed\n",
                    form.name.c_str());
        continue;
      }
      std::string verdict;
      // The span product cuts a workgroup's stream by its grid: each grid's
      // barrier form is the reference of the persistent forms after it.
      if (variant.flat == 2 && form.stage_groups != 0)
        expected.clear();
      if (expected.empty()) {
        expected = out;
        verdict = "reference form";
        if (small) {
          const std::vector<double> ref =
              reference(stages, host_weights, input, floats);
          double worst = 0;
          for (uint32_t i = 0; i < floats; ++i) {
            worst = std::max(worst, std::abs(out[i] - ref[i]) /
                                        (1e-3 + std::abs(ref[i])));
          }
          char text[96];
          std::snprintf(text, sizeof(text),
                        "reference form, worst relative error vs float64 %.2e",
                        worst);
          verdict = text;
        }
      } else {
        verdict = std::memcmp(out.data(), expected.data(), act.size) == 0
                      ? "first execute: same bits"
                      : "first execute: DIFFERENT";
      }
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2];
      std::printf("%-58s median %8.1f us  best %8.1f us  %6.3f TB/s  %s\n",
                  form.name.c_str(), median, times.front(),
                  weight_bytes / (median * 1e-6) / 1e12, verdict.c_str());
    }
  }

  // The copy rate in the same process: bytes read + written per second.
  const VkDeviceSize half =
      std::min<VkDeviceSize>(weights.size / 2, VkDeviceSize{512} << 20);
  std::vector<double> times;
  for (int it = 0; it < 30; ++it) {
    probe.begin();
    vkCmdResetQueryPool(cb, probe.queries(), 0, 2);
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, probe.queries(),
                        0);
    VkBufferCopy region{0, half, half};
    vkCmdCopyBuffer(cb, weights.buffer, weights.buffer, 1, &region);
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                        probe.queries(), 1);
    probe.submit_and_wait();
    if (it >= 5)
      times.push_back(probe.elapsed_us());
  }
  std::sort(times.begin(), times.end());
  std::printf("copy of %.0f MB: median %.1f us, %.3f TB/s read + written\n",
              half / 1e6, times[times.size() / 2],
              2.0 * half / (times[times.size() / 2] * 1e-6) / 1e12);
  return 0;
} catch (const std::exception &e) {
  std::fprintf(stderr, "persistent_chain: %s\n", e.what());
  return 1;
}
