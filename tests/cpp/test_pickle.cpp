#include <gtest/gtest.h>

#include "esm_onnx/base/errors.h"
#include "formats/pickle/pickler.h"
#include "formats/pickle/unpickler.h"

using namespace esm_onnx;
using namespace esm_onnx::pickle;

namespace {
ValuePtr load(const std::string& bytes, const PersistentLoader& p = nullptr) { return unpickle(bytes, 0, p, "test").value; }
}  // namespace

TEST(Unpickler, ScalarsContainersAndMemo) {
  // pickle.dumps({'a': l, 'b': ('x', 70000), 'c': l}, protocol=2) with l = [1, -2, 3.5, True, None]
  const std::string s("\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01]q\x02(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00\x88NeX\x01\x00\x00\x00" "bq\x03X\x01\x00\x00\x00xq\x04Jp\x11\x01\x00\x86q\x05X\x01\x00\x00\x00" "cq\x06h\x02u.", 73);
  auto v = load(s);
  ASSERT_EQ(v->kind, Value::Kind::Dict);
  auto a = v->get("a");
  ASSERT_EQ(a->items.size(), 5u);
  EXPECT_EQ(a->items[0]->i, 1);
  EXPECT_EQ(a->items[1]->i, -2);
  EXPECT_DOUBLE_EQ(a->items[2]->f, 3.5);
  EXPECT_TRUE(a->items[3]->b);
  EXPECT_EQ(a->items[4]->kind, Value::Kind::None);
  EXPECT_EQ(v->get("b")->items[1]->i, 70000);
  EXPECT_EQ(v->get("c").get(), a.get());  // memo returns the same object
}

TEST(Unpickler, NamespaceOrderedDictAndUnknownClass) {
  // pickle.dumps({'ns': Namespace(arch='roberta_large'), 'od': OrderedDict(k=7), 'un': custommod.Thing(5)}, protocol=2):
  // Namespace via NEWOBJ + BUILD, OrderedDict via REDUCE + SETITEMS, an unknown class stays generic.
  const std::string s("\x80\x02}q\x00(X\x02\x00\x00\x00nsq\x01" "cargparse\x0aNamespace\x0aq\x02)\x81q\x03}q\x04X\x04\x00\x00\x00" "archq\x05X\x0d\x00\x00\x00roberta_largeq\x06sbX\x02\x00\x00\x00odq\x07" "ccollections\x0aOrderedDict\x0aq\x08)Rq\x09X\x01\x00\x00\x00kq\x0aK\x07sX\x02\x00\x00\x00unq\x0b" "ccustommod\x0aThing\x0aq\x0cK\x05\x85q\x0dRq\x0eu.", 166);
  auto v = load(s);
  auto ns = v->get("ns");
  ASSERT_EQ(ns->kind, Value::Kind::Object);
  EXPECT_EQ(ns->s, "argparse.Namespace");
  EXPECT_EQ(ns->get("arch")->s, "roberta_large");
  EXPECT_EQ(v->get("od")->kind, Value::Kind::Dict);
  EXPECT_EQ(v->get("od")->get("k")->i, 7);
  EXPECT_EQ(v->get("un")->kind, Value::Kind::Object);
  EXPECT_EQ(v->get("un")->s, "custommod.Thing");
}

TEST(Unpickler, CorruptStreamsThrowFormatError) {
  EXPECT_THROW(load(std::string("\x80\x02}X\x05\x00\x00\x00" "ab", 10)), FormatError);     // truncated string
  EXPECT_THROW(load("\x80\x02\xff."), FormatError);                    // unknown opcode
  EXPECT_THROW(load("\x80\x02s."), FormatError);                       // stack underflow
  EXPECT_THROW(load(std::string("\x80\x02h\x05.", 5)), FormatError);                   // memo key never stored
  EXPECT_THROW(load(std::string("\x80\x02K\x01K\x02.", 7)), FormatError);              // STOP with two values
  EXPECT_THROW(load(std::string("\x80\x02(X\x01\x00\x00\x00" "aQ.", 11)), FormatError);     // persistent id without loader
  try {
    load(std::string("\x80\x02}X\xff\xff\xff\x7f" "ab", 10));
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
}

TEST(Pickler, TensorRoundTripsThroughTheUnpickler) {
  Pickler p;
  p.empty_dict();
  p.mark();
  p.string("t");
  p.float_tensor("0", {2, 3});
  p.integer(5);
  p.string("five");
  p.set_items();
  const std::string bytes = p.finish();
  std::vector<ValuePtr> pids;
  auto v = load(bytes, [&](const ValuePtr& pid) {
    pids.push_back(pid);
    auto s = std::make_shared<Value>();
    s->kind = Value::Kind::Storage;
    s->storage = std::make_shared<StorageRef>(StorageRef{pid->items[2]->s, storage_dtype(pid->items[1]->s, "t"),
                                                         static_cast<uint64_t>(pid->items[4]->i)});
    return s;
  });
  auto t = v->get("t");
  ASSERT_EQ(t->kind, Value::Kind::Tensor);
  EXPECT_EQ(t->tensor->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->tensor->strides, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(t->tensor->storage->numel, 6u);
  EXPECT_EQ(t->tensor->storage->dtype, DType::Float32);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_EQ(pids[0]->items[3]->s, "cpu");
}

// A million lists nested in each other (2 MB of EMPTY_LIST and APPEND opcodes): read and released
// without recursion, so without overflowing the stack.
TEST(Unpickler, DeepNestingDoesNotOverflowTheStack) {
  constexpr int kDepth = 1'000'000;
  std::string bytes(static_cast<std::size_t>(kDepth), ']');
  bytes.append(static_cast<std::size_t>(kDepth - 1), 'a');
  bytes.push_back('.');
  ValuePtr v = load(bytes);
  int depth = 0;
  for (const Value* p = v.get(); p; p = p->items.empty() ? nullptr : p->items[0].get()) ++depth;
  EXPECT_EQ(depth, kDepth);
  v.reset();  // the destructor walks the chain iteratively
}

// A list appended to itself through the memo: refused (torch files have no cycles), and nothing leaks
// (the sanitizer build checks).
TEST(Unpickler, ReferenceCyclesAreFormatErrorsAndDoNotLeak) {
  // EMPTY_LIST, MEMOIZE, BINGET 0, APPEND, STOP
  const std::string self = std::string("\x80\x04]\x94h\x00" "a.", 8);
  EXPECT_THROW(load(self), FormatError);
  // The same cycle left on the stack of a pickle that then fails.
  const std::string broken = std::string("\x80\x04]\x94h\x00" "a\xff", 8);
  EXPECT_THROW(load(broken), FormatError);
  // A container shared twice (not a cycle) is fine.
  const std::string shared = std::string("\x80\x04]\x94h\x00\x86.", 8);
  EXPECT_EQ(load(shared)->items.size(), 2u);
}
