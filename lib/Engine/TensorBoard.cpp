//===- TensorBoard.cpp - Logged values as TensorBoard scalars -------------===//

#include "hat/Engine/TensorBoard.h"

#include "hat/Telemetry/EventFile.h"

namespace hat::engine {

std::string tensorBoardTag(const std::string &prefix, const std::string &name) {
  // Drop "Epoch[..]" and "Step[..]" words; keep the rest of the prefix.
  std::string group;
  size_t i = 0;
  while (i < prefix.size()) {
    size_t end = prefix.find(' ', i);
    if (end == std::string::npos)
      end = prefix.size();
    std::string word = prefix.substr(i, end - i);
    bool counter =
        (word.rfind("Epoch[", 0) == 0 || word.rfind("Step[", 0) == 0) &&
        !word.empty() && word.back() == ']';
    if (!word.empty() && !counter)
      group += (group.empty() ? "" : " ") + word;
    i = end + 1;
  }
  if (group.empty())
    group = "train";
  // TensorBoard splits tags at '/' into sections; keep the name one leaf.
  return group + "/" + name;
}

namespace {
class TensorBoardSink : public LogSink {
public:
  explicit TensorBoardSink(std::unique_ptr<telemetry::EventWriter> writer)
      : writer(std::move(writer)) {}
  void
  write(const std::string &prefix, const std::string &, int64_t, int64_t step,
        const std::vector<std::pair<std::string, double>> &values) override {
    std::vector<std::pair<std::string, double>> tagged;
    for (const auto &[name, value] : values)
      tagged.emplace_back(tensorBoardTag(prefix, name), value);
    writer->addScalars(tagged, step);
    // Flushed per call: a killed run keeps everything logged so far.
    writer->flush();
  }

private:
  std::unique_ptr<telemetry::EventWriter> writer;
};
} // namespace

std::shared_ptr<LogSink> makeTensorBoardSink(const std::string &directory,
                                             std::string &error) {
  auto writer = telemetry::EventWriter::create(directory, error);
  if (!writer)
    return nullptr;
  return std::make_shared<TensorBoardSink>(std::move(writer));
}

} // namespace hat::engine
