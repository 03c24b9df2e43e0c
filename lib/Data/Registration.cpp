//===- Registration.cpp - Config builders of the data area ----------------===//
//
// Registers every dataset, transform, sampler, collate and the DataLoader
// with the config registry, so `data_loader = dict(type=DataLoader, ...)`
// builds the loader the training executor iterates. Each builder copies the
// config's kwargs field by field into the options struct of the data header
// (the struct fields are HAT's kwarg names), checking every type on the way,
// and turns exceptions of the constructors into Diagnostics at the config
// dict: builders never throw.
//
// The registry holds these as static initializers: link HatData whole
// ($<LINK_LIBRARY:WHOLE_ARCHIVE,HatData>) where configs are built.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Registry.h"
#include "hat/Data/ConfigBuild.h"
#include "hat/Data/DataLoader.h"
#include "hat/Data/Datasets.h"
#include "hat/Data/Error.h"
#include "hat/Data/Samplers.h"
#include "hat/Data/Transforms.h"

#include <algorithm>
#include <any>
#include <climits>
#include <cstdio>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

namespace hat::data {
namespace {

using config::BuildArgs;
using config::Diagnostic;
using config::Expected;
using config::KwargSpec;
using config::Registry;
using config::Value;

std::string lastComponent(const std::string &dotted) {
  size_t dot = dotted.rfind('.');
  return dot == std::string::npos ? dotted : dotted.substr(dot + 1);
}

/// BuildArgs::error() prefixes the type name; constructors of the data area
/// already start their messages with it ("Resize: ..."), so drop theirs.
Diagnostic constructorError(const BuildArgs &args, std::string message) {
  for (const std::string &prefix :
       {args.typeName() + ": ", lastComponent(args.typeName()) + ": "})
    if (message.compare(0, prefix.size(), prefix) == 0) {
      message.erase(0, prefix.size());
      break;
    }
  return args.error(message);
}

/// Runs a constructor of the data area, turning what it throws (a DataError
/// for unreadable data, std::invalid_argument for bad values) into a
/// Diagnostic at the config dict. A dataset passes its `dataPath`, so the
/// message reads "cannot open data_path 'P': REASON" (with the file inside P
/// when the error is about one).
template <typename Make>
Expected<std::any> construct(const BuildArgs &args, Make make,
                             const std::optional<std::string> &dataPath = {}) {
  try {
    return std::any(make());
  } catch (const DataError &error) {
    if (!dataPath)
      return constructorError(args, error.what());
    bool aboutPath = error.source() == *dataPath && error.key().empty();
    return args.error("cannot open data_path '" + *dataPath +
                      "': " + (aboutPath ? error.reason() : error.what()));
  } catch (const std::exception &error) {
    return constructorError(args, error.what());
  } catch (...) {
    return args.error("unexpected error while constructing");
  }
}

/// Reads kwargs into the fields of an options struct. Absent and None kwargs
/// leave the field at its default. The first type error is kept (later reads
/// are skipped) and names the type, the kwarg, what was expected and what
/// the config gave.
class KwargReader {
public:
  explicit KwargReader(const BuildArgs &args) : args_(args) {}

  bool failed() const { return error_.has_value(); }
  const Diagnostic &error() const { return *error_; }
  void fail(Diagnostic diagnostic) {
    if (!error_)
      error_ = std::move(diagnostic);
  }

  void read(const std::string &name, int &out) {
    if (const Value *v = value(name)) {
      if (!isInt(*v) || v->asInt() < INT_MIN || v->asInt() > INT_MAX)
        return typeError(name, "an int", *v);
      out = static_cast<int>(v->asInt());
    }
  }
  void read(const std::string &name, std::optional<int> &out) {
    int parsed = 0;
    if (value(name)) {
      read(name, parsed);
      if (!failed())
        out = parsed;
    }
  }
  /// Seeds: non-negative ints.
  void read(const std::string &name, uint64_t &out) {
    if (const Value *v = value(name)) {
      if (!isInt(*v) || v->asInt() < 0)
        return typeError(name, "a non-negative int", *v);
      out = static_cast<uint64_t>(v->asInt());
    }
  }
  void read(const std::string &name, double &out) {
    if (const Value *v = value(name)) {
      if (!isNumber(*v))
        return typeError(name, "a number", *v);
      out = v->asNumber();
    }
  }
  void read(const std::string &name, bool &out) {
    if (const Value *v = value(name)) {
      if (!v->isBool())
        return typeError(name, "True or False", *v);
      out = v->asBool();
    }
  }
  void read(const std::string &name, std::string &out) {
    if (const Value *v = value(name)) {
      if (!v->isStr())
        return typeError(name, "a string", *v);
      out = v->asStr();
    }
  }
  /// A string out of `choices`.
  void readChoice(const std::string &name, std::string &out,
                  const std::vector<std::string> &choices) {
    if (const Value *v = value(name)) {
      std::string list;
      for (size_t i = 0; i < choices.size(); ++i)
        list += (i ? ", '" : "'") + choices[i] + "'";
      if (!v->isStr() || std::find(choices.begin(), choices.end(),
                                   v->asStr()) == choices.end())
        return typeError(name, "one of " + list, *v);
      out = v->asStr();
    }
  }
  /// A (height, width) size: a pair of ints, or one int for a square.
  void read(const std::string &name, std::array<int, 2> &out) {
    if (const Value *v = value(name)) {
      const char *expected = "an int or a (height, width) pair of ints";
      if (isInt(*v)) {
        if (v->asInt() < INT_MIN || v->asInt() > INT_MAX)
          return typeError(name, expected, *v);
        out = {static_cast<int>(v->asInt()), static_cast<int>(v->asInt())};
        return;
      }
      if (!isPair(*v))
        return typeError(name, expected, *v);
      std::array<int, 2> parsed{};
      for (size_t i = 0; i < 2; ++i) {
        const Value &item = v->sequenceItems()[i];
        if (!isInt(item) || item.asInt() < INT_MIN || item.asInt() > INT_MAX)
          return typeError(name, expected, *v);
        parsed[i] = static_cast<int>(item.asInt());
      }
      out = parsed;
    }
  }
  /// A size as above, or a list of (height, width) pairs (multi-scale): one
  /// pair goes to `single`, several to `multiple`.
  void readSizes(const std::string &name, std::array<int, 2> &single,
                 std::vector<std::array<int, 2>> &multiple) {
    const Value *v = value(name);
    if (!v)
      return;
    const bool listOfPairs =
        (v->isList() || v->isTuple()) && !v->sequenceItems().empty() &&
        std::all_of(
            v->sequenceItems().begin(), v->sequenceItems().end(),
            [](const Value &item) { return item.isList() || item.isTuple(); });
    if (!listOfPairs)
      return read(name, single);
    std::vector<std::array<int, 2>> parsed;
    for (const Value &item : v->sequenceItems()) {
      if (!isPair(item) || !isInt(item.sequenceItems()[0]) ||
          !isInt(item.sequenceItems()[1]) ||
          item.sequenceItems()[0].asInt() > INT_MAX ||
          item.sequenceItems()[1].asInt() > INT_MAX)
        return typeError(name,
                         "an int, a (height, width) pair of ints or a list "
                         "of such pairs",
                         *v);
      parsed.push_back({static_cast<int>(item.sequenceItems()[0].asInt()),
                        static_cast<int>(item.sequenceItems()[1].asInt())});
    }
    if (parsed.size() == 1)
      single = parsed[0];
    else
      multiple = std::move(parsed);
  }
  void read(const std::string &name, std::optional<std::array<int, 2>> &out) {
    std::array<int, 2> parsed{};
    if (value(name)) {
      read(name, parsed);
      if (!failed())
        out = parsed;
    }
  }
  /// A (low, high) pair of numbers.
  void read(const std::string &name, std::array<double, 2> &out) {
    if (const Value *v = value(name)) {
      if (!isPair(*v) || !isNumber(v->sequenceItems()[0]) ||
          !isNumber(v->sequenceItems()[1]))
        return typeError(name, "a (low, high) pair of numbers", *v);
      out = {v->sequenceItems()[0].asNumber(),
             v->sequenceItems()[1].asNumber()};
    }
  }
  void read(const std::string &name,
            std::optional<std::array<double, 2>> &out) {
    std::array<double, 2> parsed{};
    if (value(name)) {
      read(name, parsed);
      if (!failed())
        out = parsed;
    }
  }
  /// One number, or a list/tuple of numbers (one per channel).
  void read(const std::string &name, std::vector<double> &out) {
    if (const Value *v = value(name)) {
      const char *expected = "a number or a list of numbers";
      if (isNumber(*v)) {
        out = {v->asNumber()};
        return;
      }
      if (!v->isList() && !v->isTuple())
        return typeError(name, expected, *v);
      std::vector<double> parsed;
      for (const Value &item : v->sequenceItems()) {
        if (!isNumber(item))
          return typeError(name, expected, *v);
        parsed.push_back(item.asNumber());
      }
      out = std::move(parsed);
    }
  }

  /// albumentations' limits: a (low, high) pair, or one number x meaning
  /// (-x, x) (or (1 - x, 1 + x) with `aroundOne`, for scale factors).
  void readLimit(const std::string &name, std::array<double, 2> &out,
                 bool aroundOne = false) {
    if (const Value *v = value(name)) {
      if (isNumber(*v)) {
        const double x = v->asNumber();
        out = aroundOne ? std::array<double, 2>{1 - x, 1 + x}
                        : std::array<double, 2>{-x, x};
        return;
      }
      read(name, out);
    }
  }
  /// An int in [low, high].
  void readIntIn(const std::string &name, int &out, int low, int high) {
    if (const Value *v = value(name)) {
      if (!isInt(*v) || v->asInt() < low || v->asInt() > high)
        return typeError(name,
                         "an int from " + std::to_string(low) + " to " +
                             std::to_string(high),
                         *v);
      out = static_cast<int>(v->asInt());
    }
  }
  /// FixedCrop's size: (x1, y1, w, h), or (w, h) at the origin.
  void readCropWindow(const std::string &name, std::array<int, 4> &out) {
    if (const Value *v = value(name)) {
      const char *expected = "(x1, y1, w, h) or (w, h) ints";
      if (!(v->isList() || v->isTuple()) ||
          (v->sequenceItems().size() != 2 && v->sequenceItems().size() != 4))
        return typeError(name, expected, *v);
      std::vector<int> items;
      for (const Value &item : v->sequenceItems()) {
        if (!isInt(item) || item.asInt() < INT_MIN || item.asInt() > INT_MAX)
          return typeError(name, expected, *v);
        items.push_back(static_cast<int>(item.asInt()));
      }
      out = items.size() == 2
                ? std::array<int, 4>{0, 0, items[0], items[1]}
                : std::array<int, 4>{items[0], items[1], items[2], items[3]};
    }
  }

  void typeError(const std::string &name, const std::string &expected,
                 const Value &got) {
    fail(args_.error("'" + name + "' must be " + expected + ", got " +
                     got.typeName() + " " + got.repr()));
  }

  /// The kwarg `name`, or null when absent, None or after an error.
  const Value *value(const std::string &name) const {
    if (failed())
      return nullptr;
    const Value *v = args_.config().find(name);
    return v && !v->isNone() ? v : nullptr;
  }

private:
  // Python's bool is an int, but `batch_size=True` is a mistake.
  static bool isInt(const Value &v) { return v.isInt(); }
  static bool isNumber(const Value &v) { return v.isInt() || v.isFloat(); }
  static bool isPair(const Value &v) {
    return (v.isList() || v.isTuple()) && v.sequenceItems().size() == 2;
  }

  const BuildArgs &args_;
  std::optional<Diagnostic> error_;
};

/// Builds `config` (a dict, or a bare type name / class symbol for objects
/// without kwargs) through the registry as a `category`, expecting a `T`.
/// Errors of the nested config keep its own location, with a note saying
/// where it was used.
template <typename T>
Expected<T> buildNested(const BuildArgs &args, const Value &config,
                        const std::string &category, const std::string &where) {
  Value dict = config;
  if (config.isStr() || config.isSymbol()) {
    dict = Value::dict();
    dict.asDict().set("type", config);
    dict.asDict().loc = args.config().loc;
  } else if (!config.isDict()) {
    return args.error("'" + where + "' must be a " + category + " dict, got " +
                      config.typeName() + " " + config.repr());
  }
  Expected<std::any> built = Registry::instance().build(dict, category);
  if (!built) {
    Diagnostic diagnostic = built.error();
    if (!diagnostic.hasLocation())
      diagnostic = args.error(diagnostic.message);
    diagnostic.notes.push_back("in '" + where + "' of " + args.typeName());
    return diagnostic;
  }
  if (const T *value = std::any_cast<T>(&*built))
    return *value;
  return args.error("'" + where + "': the " + category +
                    " builder returned an unexpected type");
}

//===----------------------------------------------------------------------===//
// Transforms
//===----------------------------------------------------------------------===//

const std::vector<std::string> kInterpolations = {
    "nearest", "bilinear", "linear", "area", "bicubic", "cubic"};

template <typename TransformT, typename Options>
Expected<std::any> makeTransform(const BuildArgs &args,
                                 const KwargReader &kwargs,
                                 const Options &options) {
  if (kwargs.failed())
    return kwargs.error();
  return construct(args, [&]() -> TransformPtr {
    return std::make_shared<TransformT>(options);
  });
}

HAT_REGISTER("transform", {"Resize"},
             KwargSpec{{},
                       {"img_scale", "ratio_range", "keep_ratio",
                        "interpolation", "multiscale_mode"}},
             [](const BuildArgs &args) {
               ResizeOptions options;
               KwargReader kwargs(args);
               kwargs.readSizes("img_scale", options.img_scale,
                                options.img_scales);
               kwargs.readChoice("multiscale_mode", options.multiscale_mode,
                                 {"range", "value"});
               kwargs.read("ratio_range", options.ratio_range);
               kwargs.read("keep_ratio", options.keep_ratio);
               kwargs.readChoice("interpolation", options.interpolation,
                                 kInterpolations);
               return makeTransform<Resize>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"RandomCrop"},
             KwargSpec{{}, {"size", "allow_negative_crop"}},
             [](const BuildArgs &args) {
               RandomCropOptions options;
               KwargReader kwargs(args);
               kwargs.read("size", options.size);
               kwargs.read("allow_negative_crop", options.allow_negative_crop);
               return makeTransform<RandomCrop>(args, kwargs, options);
             });

// `size_divisor` is mmdet's name for HAT's `divisor`.
HAT_REGISTER("transform", {"Pad"},
             KwargSpec{{}, {"size", "divisor", "size_divisor", "pad_val"}},
             [](const BuildArgs &args) -> Expected<std::any> {
               PadOptions options;
               KwargReader kwargs(args);
               kwargs.read("size", options.size);
               kwargs.read("divisor", options.divisor);
               if (kwargs.value("size_divisor") && options.divisor)
                 return args.error("Pad: give one of divisor and "
                                   "size_divisor (the same option)");
               kwargs.read("size_divisor", options.divisor);
               kwargs.read("pad_val", options.pad_val);
               return makeTransform<Pad>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"RandomFlip"}, KwargSpec{{}, {"px", "py"}},
             [](const BuildArgs &args) {
               RandomFlipOptions options;
               KwargReader kwargs(args);
               kwargs.read("px", options.px);
               kwargs.read("py", options.py);
               return makeTransform<RandomFlip>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"AugmentHSV"},
             KwargSpec{{}, {"hgain", "sgain", "vgain", "p"}},
             [](const BuildArgs &args) {
               AugmentHSVOptions options;
               KwargReader kwargs(args);
               kwargs.read("hgain", options.hgain);
               kwargs.read("sgain", options.sgain);
               kwargs.read("vgain", options.vgain);
               kwargs.read("p", options.p);
               return makeTransform<AugmentHSV>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"ToTensor"}, KwargSpec{{}, {"to_yuv"}},
             [](const BuildArgs &args) {
               ToTensorOptions options;
               KwargReader kwargs(args);
               kwargs.read("to_yuv", options.to_yuv);
               return makeTransform<ToTensor>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"Normalize"}, KwargSpec{{}, {"mean", "std"}},
             [](const BuildArgs &args) {
               NormalizeOptions options;
               KwargReader kwargs(args);
               kwargs.read("mean", options.mean);
               kwargs.read("std", options.std);
               return makeTransform<Normalize>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"BgrToYuv444"}, KwargSpec{{}, {"rgb_input"}},
             [](const BuildArgs &args) {
               BgrToYuv444Options options;
               KwargReader kwargs(args);
               kwargs.read("rgb_input", options.rgb_input);
               return makeTransform<BgrToYuv444>(args, kwargs, options);
             });

// HAT's lane config writes albumentations' height= and width=; classifier
// configs write size=. One of the two spellings, not both.
HAT_REGISTER("transform", {"RandomResizedCrop"},
             KwargSpec{{},
                       {"size", "height", "width", "scale", "ratio",
                        "interpolation", "p"}},
             [](const BuildArgs &args) -> Expected<std::any> {
               RandomResizedCropOptions options;
               KwargReader kwargs(args);
               kwargs.read("size", options.size);
               const bool hasHeight = kwargs.value("height") != nullptr;
               const bool hasWidth = kwargs.value("width") != nullptr;
               if (!kwargs.failed() && (hasHeight || hasWidth)) {
                 if (kwargs.value("size"))
                   return args.error("give 'size' or 'height' and 'width', "
                                     "not both");
                 if (hasHeight != hasWidth)
                   return args.error(std::string("'") +
                                     (hasHeight ? "width" : "height") +
                                     "' is missing: give both 'height' and "
                                     "'width'");
               }
               kwargs.read("height", options.size[0]);
               kwargs.read("width", options.size[1]);
               kwargs.read("scale", options.scale);
               kwargs.read("ratio", options.ratio);
               kwargs.readChoice("interpolation", options.interpolation,
                                 kInterpolations);
               kwargs.read("p", options.p);
               return makeTransform<RandomResizedCrop>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"FixedCrop"}, KwargSpec{{"size"}, {}},
             [](const BuildArgs &args) {
               FixedCropOptions options;
               KwargReader kwargs(args);
               kwargs.readCropWindow("size", options.size);
               if (!kwargs.failed() && !kwargs.value("size"))
                 kwargs.typeError("size", "(x1, y1, w, h) or (w, h) ints",
                                  args.get("size"));
               return makeTransform<FixedCrop>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"RGBShift"},
             KwargSpec{
                 {}, {"r_shift_limit", "g_shift_limit", "b_shift_limit", "p"}},
             [](const BuildArgs &args) {
               RGBShiftOptions options;
               KwargReader kwargs(args);
               kwargs.readLimit("r_shift_limit", options.r_shift_limit);
               kwargs.readLimit("g_shift_limit", options.g_shift_limit);
               kwargs.readLimit("b_shift_limit", options.b_shift_limit);
               kwargs.read("p", options.p);
               return makeTransform<RGBShift>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"HueSaturationValue"},
             KwargSpec{{}, {"hue_range", "sat_range", "val_range", "p"}},
             [](const BuildArgs &args) {
               HueSaturationValueOptions options;
               KwargReader kwargs(args);
               kwargs.readLimit("hue_range", options.hue_range);
               kwargs.readLimit("sat_range", options.sat_range);
               kwargs.readLimit("val_range", options.val_range);
               kwargs.read("p", options.p);
               return makeTransform<HueSaturationValue>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"JPEGCompress"},
             KwargSpec{{}, {"p", "max_quality", "min_quality"}},
             [](const BuildArgs &args) {
               JPEGCompressOptions options;
               KwargReader kwargs(args);
               kwargs.read("p", options.p);
               kwargs.read("max_quality", options.max_quality);
               kwargs.read("min_quality", options.min_quality);
               return makeTransform<JPEGCompress>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"MeanBlur"}, KwargSpec{{}, {"ksize", "p"}},
             [](const BuildArgs &args) {
               BlurOptions options;
               KwargReader kwargs(args);
               kwargs.read("ksize", options.ksize);
               kwargs.read("p", options.p);
               return makeTransform<MeanBlur>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"MedianBlur"}, KwargSpec{{}, {"ksize", "p"}},
             [](const BuildArgs &args) {
               BlurOptions options;
               KwargReader kwargs(args);
               kwargs.read("ksize", options.ksize);
               kwargs.read("p", options.p);
               return makeTransform<MedianBlur>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"RandomBrightnessContrast"},
             KwargSpec{{},
                       {"brightness_limit", "contrast_limit",
                        "brightness_by_max", "p"}},
             [](const BuildArgs &args) {
               RandomBrightnessContrastOptions options;
               KwargReader kwargs(args);
               kwargs.readLimit("brightness_limit", options.brightness_limit);
               kwargs.readLimit("contrast_limit", options.contrast_limit);
               kwargs.read("brightness_by_max", options.brightness_by_max);
               kwargs.read("p", options.p);
               return makeTransform<RandomBrightnessContrast>(args, kwargs,
                                                              options);
             });

// interpolation and border_mode are OpenCV's integer flags, as HAT's config
// writes them (interpolation=1, border_mode=0).
HAT_REGISTER("transform", {"ShiftScaleRotate"},
             KwargSpec{{},
                       {"shift_limit", "scale_limit", "rotate_limit",
                        "interpolation", "border_mode", "value", "p"}},
             [](const BuildArgs &args) {
               ShiftScaleRotateOptions options;
               KwargReader kwargs(args);
               kwargs.readLimit("shift_limit", options.shift_limit);
               kwargs.readLimit("scale_limit", options.scale_limit,
                                /*aroundOne=*/true);
               kwargs.readLimit("rotate_limit", options.rotate_limit);
               kwargs.readIntIn("interpolation", options.interpolation, 0, 4);
               kwargs.readIntIn("border_mode", options.border_mode, 0, 4);
               kwargs.read("value", options.value);
               kwargs.read("p", options.p);
               return makeTransform<ShiftScaleRotate>(args, kwargs, options);
             });

// HAT wraps torchvision transforms as TorchVisionAdapter(interface=NAME,
// **kwargs). Only Normalize has a counterpart here; other interfaces are
// refused rather than approximated.
HAT_REGISTER("transform", {"TorchVisionAdapter"},
             KwargSpec{{"interface"}, {"mean", "std"}},
             [](const BuildArgs &args) -> Expected<std::any> {
               const Value interface = args.get("interface");
               if (!interface.isStr() || interface.asStr() != "Normalize")
                 return args.error("only interface=\"Normalize\" is "
                                   "supported, got " +
                                   interface.repr());
               NormalizeOptions options;
               KwargReader kwargs(args);
               kwargs.read("mean", options.mean);
               kwargs.read("std", options.std);
               return makeTransform<Normalize>(args, kwargs, options);
             });

// torchvision's ColorJitter also takes `hue`; this one has no hue jitter, so
// only hue=0 is accepted, rather than silently ignoring a requested jitter.
HAT_REGISTER("transform", {"ColorJitter"},
             KwargSpec{{},
                       {"brightness", "contrast", "saturation", "hue", "p"}},
             [](const BuildArgs &args) {
               ColorJitterOptions options;
               KwargReader kwargs(args);
               kwargs.read("brightness", options.brightness);
               kwargs.read("contrast", options.contrast);
               kwargs.read("saturation", options.saturation);
               kwargs.read("p", options.p);
               double hue = 0;
               kwargs.read("hue", hue);
               if (!kwargs.failed() && hue != 0)
                 kwargs.fail(args.error("'hue' jitter is not supported (only "
                                        "hue=0); got " +
                                        args.get("hue").repr()));
               return makeTransform<ColorJitter>(args, kwargs, options);
             });

HAT_REGISTER("transform", {"RandomSelectOne"},
             KwargSpec{{"transforms"}, {"p", "p_trans"}},
             [](const BuildArgs &args) -> Expected<std::any> {
               RandomSelectOneOptions options;
               KwargReader kwargs(args);
               kwargs.read("p", options.p);
               kwargs.read("p_trans", options.p_trans);
               if (kwargs.failed())
                 return kwargs.error();
               Value list = args.get("transforms");
               if (!list.isList() && !list.isTuple())
                 return args.error("'transforms' must be a list of transform "
                                   "dicts, got " +
                                   list.typeName() + " " + list.repr());
               for (size_t i = 0; i < list.sequenceItems().size(); ++i) {
                 Expected<TransformPtr> transform = buildNested<TransformPtr>(
                     args, list.sequenceItems()[i], "transform",
                     "transforms[" + std::to_string(i) + "]");
                 if (!transform)
                   return transform.error();
                 options.transforms.push_back(std::move(*transform));
               }
               return makeTransform<RandomSelectOne>(args, kwargs, options);
             });

//===----------------------------------------------------------------------===//
// Datasets
//===----------------------------------------------------------------------===//

/// The `transforms` list of a dataset, each item built as a "transform".
/// A transform needing 8-bit pixels after ToTensor/Normalize, or
/// BgrToYuv444 after Normalize, would fail on the first sample; it is
/// reported here, at its dict, instead.
Expected<std::vector<TransformPtr>> transformsArg(const BuildArgs &args) {
  Value list = args.get("transforms");
  std::vector<TransformPtr> transforms;
  if (list.isNone())
    return transforms;
  if (!list.isList() && !list.isTuple())
    return args.error("'transforms' must be a list of transform dicts, got " +
                      list.typeName() + " " + list.repr());
  bool sawTensor = false, sawNormalize = false;
  for (size_t i = 0; i < list.sequenceItems().size(); ++i) {
    const Value &item = list.sequenceItems()[i];
    Expected<TransformPtr> transform = buildNested<TransformPtr>(
        args, item, "transform", "transforms[" + std::to_string(i) + "]");
    if (!transform)
      return transform.error();
    std::string name = (*transform)->name();
    const auto where = item.isDict() ? item.asDict().loc : args.config().loc;
    if (sawTensor && (*transform)->needs8BitImage())
      return Diagnostic(where, name +
                                   " works on 8-bit images; put it before "
                                   "ToTensor/Normalize in 'transforms' of " +
                                   args.typeName());
    if (sawNormalize && name == "BgrToYuv444")
      return Diagnostic(where, "BgrToYuv444 needs pixel values (0..255); put "
                               "it before Normalize in 'transforms' of " +
                                   args.typeName());
    sawTensor = sawTensor || name == "ToTensor" || name == "Normalize";
    sawNormalize = sawNormalize || name == "Normalize";
    transforms.push_back(std::move(*transform));
  }
  return transforms;
}

/// An LMDB dataset with options {data_path, transforms}; `extra` sets the
/// rest of Options.
template <typename DatasetT, typename Options>
Expected<std::any>
buildLmdbDatasetWith(const BuildArgs &args,
                     const std::function<void(Options &)> &extra) {
  Options options;
  if (extra)
    extra(options);
  KwargReader kwargs(args);
  kwargs.read("data_path", options.data_path);
  // Required, so None does not mean "the default" here.
  if (!kwargs.failed() && !kwargs.value("data_path"))
    kwargs.typeError("data_path", "a string", args.get("data_path"));
  if (kwargs.failed())
    return kwargs.error();
  Expected<std::vector<TransformPtr>> transforms = transformsArg(args);
  if (!transforms)
    return transforms.error();
  options.transforms = std::move(*transforms);
  std::string path = options.data_path;
  return construct(
      args, [&]() -> DatasetPtr { return std::make_shared<DatasetT>(options); },
      path);
}

template <typename DatasetT, typename Options>
Expected<std::any> buildLmdbDataset(const BuildArgs &args) {
  return buildLmdbDatasetWith<DatasetT, Options>(args, nullptr);
}

const KwargSpec kLmdbDatasetKwargs{{"data_path"}, {"transforms"}};

// HAT's `Coco` reads the same LMDB packs; registered apart from
// `CocoFromLMDB` so errors name the type the config wrote.
HAT_REGISTER("dataset", {"ImageNetFromLMDB"}, kLmdbDatasetKwargs,
             buildLmdbDataset<ImageNetFromLMDB, ImageNetFromLMDBOptions>);
HAT_REGISTER("dataset", {"CocoFromLMDB"}, kLmdbDatasetKwargs,
             buildLmdbDataset<CocoFromLMDB, CocoFromLMDBOptions>);
HAT_REGISTER("dataset", {"Coco"}, kLmdbDatasetKwargs,
             buildLmdbDataset<Coco, CocoOptions>);
// HAT's CuLaneDataset reads the same packs; like HAT's it gives RGB images
// unless to_rgb=False. CuLaneFromLMDB keeps BGR unless to_rgb=True.
HAT_REGISTER("dataset", {"CuLaneFromLMDB", "CuLaneDataset"},
             KwargSpec{{"data_path"}, {"transforms", "to_rgb"}},
             [](const BuildArgs &args) -> Expected<std::any> {
               bool toRgb = lastComponent(args.typeName()) == "CuLaneDataset";
               KwargReader kwargs(args);
               kwargs.read("to_rgb", toRgb);
               if (kwargs.failed())
                 return kwargs.error();
               Expected<std::any> built =
                   buildLmdbDatasetWith<CuLaneFromLMDB, CuLaneFromLMDBOptions>(
                       args, [&](CuLaneFromLMDBOptions &options) {
                         options.to_rgb = toRgb;
                       });
               return built;
             });

// The split is spelt `train=True|False` (torchvision) or
// `split="train"|"val"|"test"` (HAT); both may be given if they agree. It
// only selects IDX files: an LMDB data_path holds one split already.
HAT_REGISTER("dataset", {"FashionMNIST"},
             KwargSpec{{}, {"data_path", "train", "split", "transforms"}},
             [](const BuildArgs &args) -> Expected<std::any> {
               FashionMNISTOptions options;
               KwargReader kwargs(args);
               kwargs.read("data_path", options.data_path);
               kwargs.read("train", options.train);
               std::string split;
               kwargs.readChoice("split", split, {"train", "val", "test"});
               if (kwargs.failed())
                 return kwargs.error();
               if (!split.empty()) {
                 bool splitIsTrain = split == "train";
                 if (kwargs.value("train") && options.train != splitIsTrain)
                   return args.error("'split' is '" + split +
                                     "' but 'train' is " +
                                     (options.train ? "True" : "False"));
                 options.train = splitIsTrain;
               }
               Expected<std::vector<TransformPtr>> transforms =
                   transformsArg(args);
               if (!transforms)
                 return transforms.error();
               options.transforms = std::move(*transforms);
               std::string path = options.data_path;
               return construct(
                   args,
                   [&]() -> DatasetPtr {
                     return std::make_shared<FashionMNIST>(options);
                   },
                   path);
             });

//===----------------------------------------------------------------------===//
// Samplers
//===----------------------------------------------------------------------===//

HAT_REGISTER("sampler", {"torch.utils.data.SequentialSampler"}, KwargSpec{},
             [](const BuildArgs &) -> Expected<std::any> {
               return std::any(
                   SamplerPtr(std::make_shared<SequentialSampler>()));
             });

HAT_REGISTER("sampler", {"torch.utils.data.RandomSampler"},
             KwargSpec{{}, {"seed"}}, [](const BuildArgs &args) {
               RandomSamplerOptions options;
               KwargReader kwargs(args);
               kwargs.read("seed", options.seed);
               if (kwargs.failed())
                 return Expected<std::any>(kwargs.error());
               return construct(args, [&]() -> SamplerPtr {
                 return std::make_shared<RandomSampler>(options);
               });
             });

// Without `rank` / `num_replicas` the sampler takes the process-wide
// distributedDefaults() the engine sets, as torch takes them from the
// process group.
HAT_REGISTER("sampler", {"torch.utils.data.DistributedSampler"},
             KwargSpec{
                 {}, {"num_replicas", "rank", "shuffle", "seed", "drop_last"}},
             [](const BuildArgs &args) {
               DistributedDefaults defaults = distributedDefaults();
               DistributedSamplerOptions options;
               options.num_replicas = defaults.worldSize;
               options.rank = defaults.rank;
               KwargReader kwargs(args);
               kwargs.read("num_replicas", options.num_replicas);
               kwargs.read("rank", options.rank);
               kwargs.read("shuffle", options.shuffle);
               kwargs.read("seed", options.seed);
               kwargs.read("drop_last", options.drop_last);
               if (kwargs.failed())
                 return Expected<std::any>(kwargs.error());
               return construct(args, [&]() -> SamplerPtr {
                 return std::make_shared<DistributedSampler>(options);
               });
             });

//===----------------------------------------------------------------------===//
// Collates and the loader
//===----------------------------------------------------------------------===//

// A collate builds to the name DataLoaderOptions::collate_fn takes. Configs
// write it as a bare symbol (collate_fn=hat.data.collates.collate_2d).
HAT_REGISTER("collate", {"hat.data.collates.collate_2d"}, KwargSpec{},
             [](const BuildArgs &) -> Expected<std::any> {
               return std::any(std::string("collate_2d"));
             });

HAT_REGISTER(
    "data_loader", {"torch.utils.data.DataLoader"},
    KwargSpec{{"dataset"},
              {"batch_size", "shuffle", "sampler", "num_workers", "drop_last",
               "pin_memory", "collate_fn", "prefetch_factor", "seed",
               "on_error"}},
    [](const BuildArgs &args) -> Expected<std::any> {
      DataLoaderOptions options;
      KwargReader kwargs(args);
      kwargs.read("batch_size", options.batch_size);
      kwargs.read("shuffle", options.shuffle);
      kwargs.read("num_workers", options.num_workers);
      kwargs.read("drop_last", options.drop_last);
      kwargs.read("pin_memory", options.pin_memory);
      kwargs.read("prefetch_factor", options.prefetch_factor);
      kwargs.read("seed", options.seed);
      kwargs.readChoice("on_error", options.on_error, {"fail", "skip"});
      if (kwargs.failed())
        return kwargs.error();
      // HAT configs set pin_memory for CUDA host->device copies; batches
      // here stay in host memory. Accepted, and said once, not ignored
      // silently.
      if (options.pin_memory) {
        static std::once_flag noted;
        std::call_once(noted, [] {
          std::fprintf(stderr,
                       "note: DataLoader: pin_memory=True has no effect in "
                       "this CPU build (batches stay in host memory)\n");
        });
      }

      // The cheap kwargs first, the dataset (which opens files) last.
      if (const Value *sampler = kwargs.value("sampler")) {
        Expected<SamplerPtr> built =
            buildNested<SamplerPtr>(args, *sampler, "sampler", "sampler");
        if (!built)
          return built.error();
        options.sampler = std::move(*built);
      }
      if (const Value *collate = kwargs.value("collate_fn")) {
        Expected<std::string> built =
            buildNested<std::string>(args, *collate, "collate", "collate_fn");
        if (!built)
          return built.error();
        options.collate_fn = std::move(*built);
      }
      Expected<DatasetPtr> dataset = buildNested<DatasetPtr>(
          args, args.get("dataset"), "dataset", "dataset");
      if (!dataset)
        return dataset.error();
      options.dataset = std::move(*dataset);
      return construct(args, [&]() {
        return std::make_shared<DataLoader>(std::move(options));
      });
    });

} // namespace

config::Expected<std::vector<TransformPtr>>
buildBatchTransforms(const config::Value &list) {
  std::vector<TransformPtr> transforms;
  if (list.isNone())
    return transforms;
  if (!list.isList() && !list.isTuple())
    return config::Diagnostic("'batch_transforms' must be a list of transform "
                              "dicts, got " +
                              list.typeName() + " " + list.repr());
  const auto &items = list.sequenceItems();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "batch_transforms[" + std::to_string(i) + "]";
    config::Expected<std::any> built =
        config::Registry::instance().build(items[i], "transform");
    if (!built) {
      config::Diagnostic diagnostic = built.error();
      diagnostic.notes.push_back("in '" + where + "'");
      return diagnostic;
    }
    const TransformPtr *transform = std::any_cast<TransformPtr>(&*built);
    if (!transform)
      return config::Diagnostic("'" + where + "' did not build a transform");
    if (!(*transform)->worksOnBatches()) {
      std::string message =
          std::string((*transform)->name()) +
          " cannot run on a collated batch: batch_transforms take BgrToYuv444 "
          "and Normalize (or TorchVisionAdapter with interface=\"Normalize\")"
          "; put it in the dataset's transforms";
      if (items[i].isDict())
        return config::Diagnostic(items[i].asDict().loc, message);
      return config::Diagnostic(message);
    }
    transforms.push_back(*transform);
  }
  return transforms;
}

std::string batchSummaryJson(const Batch &batch) {
  nlohmann::ordered_json out;
  out["shape"] = batch.imageShape;
  out["color_spaces"] = batch.colorSpaces;
  std::vector<int64_t> boxes, lanes;
  nlohmann::json lanePoints = nlohmann::json::array();
  for (int64_t n = 0; n < batch.size(); ++n) {
    if (std::size_t(n + 1) < batch.boxOffsets.size())
      boxes.push_back(batch.boxOffsets[n + 1] - batch.boxOffsets[n]);
    if (std::size_t(n + 1) < batch.laneOffsets.size()) {
      const int64_t first = batch.laneOffsets[n],
                    last = batch.laneOffsets[n + 1];
      lanes.push_back(last - first);
      nlohmann::json image = nlohmann::json::array();
      for (int64_t lane = first; lane < last; ++lane) {
        nlohmann::json points = nlohmann::json::array();
        for (int64_t p = batch.lanePointOffsets[lane];
             p < batch.lanePointOffsets[lane + 1]; ++p)
          points.push_back(
              {batch.lanePoints[2 * p], batch.lanePoints[2 * p + 1]});
        image.push_back(std::move(points));
      }
      lanePoints.push_back(std::move(image));
    }
  }
  out["boxes"] = boxes;
  out["lanes"] = lanes;
  const int64_t channels = batch.imageShape[1];
  const int64_t plane = batch.imageShape[2] * batch.imageShape[3];
  nlohmann::json stats = nlohmann::json::array();
  for (int64_t c = 0; c < channels; ++c) {
    double low = 0, high = 0, sum = 0;
    int64_t count = 0;
    for (int64_t n = 0; n < batch.size(); ++n) {
      const float *data = batch.images.data() + (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i, ++count) {
        low = count ? std::min<double>(low, data[i]) : data[i];
        high = count ? std::max<double>(high, data[i]) : data[i];
        sum += data[i];
      }
    }
    stats.push_back({{"min", low},
                     {"max", high},
                     {"mean", count ? sum / double(count) : 0.0}});
  }
  out["channels"] = stats;
  out["lane_points"] = lanePoints;
  return out.dump();
}

} // namespace hat::data
