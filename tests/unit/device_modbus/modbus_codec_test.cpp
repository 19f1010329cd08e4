// Register <-> twin text conversion: types, scale, both swaps, property types and the range
// checks of desired values. Expected register words are written out by hand from the IEEE/two's
// complement encodings, not produced by the code under test.

#include <gtest/gtest.h>

#include <vector>

#include "device/modbus/modbus_codec.hpp"

namespace kedge::device::modbus {
namespace {

using Regs = std::vector<std::uint16_t>;

VisitorConfig holding(DataType type, double scale = 1.0, bool swap_bytes = false,
                      bool swap_registers = false) {
    VisitorConfig v;
    v.kind = RegisterKind::kHolding;
    v.data_type = type;
    v.limit = register_count(type);
    v.scale = scale;
    v.swap_bytes = swap_bytes;
    v.swap_registers = swap_registers;
    return v;
}

PropertyConfig prop(std::string_view type, std::optional<double> min = {},
                    std::optional<double> max = {}) {
    PropertyConfig p;
    p.name = "temp";
    p.type = std::string(type);
    p.minimum = min;
    p.maximum = max;
    return p;
}

std::string decode(const VisitorConfig& v, std::string_view type, Regs regs) {
    auto r = decode_registers(v, prop(type), regs);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : "<error>";
}

Regs encode(const VisitorConfig& v, const PropertyConfig& p, std::string_view text) {
    auto r = encode_registers(v, p, text);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : Regs{};
}

TEST(ModbusDecode, SignedAndUnsigned16) {
    EXPECT_EQ(decode(holding(DataType::kInt16), "INT", {0xFFFF}), "-1");
    EXPECT_EQ(decode(holding(DataType::kUint16), "INT", {0xFFFF}), "65535");
    EXPECT_EQ(decode(holding(DataType::kInt16), "INT", {0x8000}), "-32768");
}

TEST(ModbusDecode, ScaleKeepsDecimalsForFloatAndRoundsForInt) {
    EXPECT_EQ(decode(holding(DataType::kInt16, 0.1), "FLOAT", {215}), "21.5");
    EXPECT_EQ(decode(holding(DataType::kInt16, 0.1), "DOUBLE", {3}), "0.3");
    EXPECT_EQ(decode(holding(DataType::kInt16, 0.1), "INT", {215}), "22");
    EXPECT_EQ(decode(holding(DataType::kInt16, 0.1), "INT", {0xFFF1}), "-2");  // -15 * 0.1
    EXPECT_EQ(decode(holding(DataType::kUint16, 10), "INT", {6553}), "65530");
    EXPECT_EQ(decode(holding(DataType::kInt16, 0.5), "FLOAT", {0}), "0");
}

TEST(ModbusDecode, ThirtyTwoBitWordOrderAndByteSwap) {
    // 0x00010002 = 65538, big-endian words (ABCD).
    EXPECT_EQ(decode(holding(DataType::kInt32), "INT", {0x0001, 0x0002}), "65538");
    // isRegisterSwap: the device sends the low word first (CDAB).
    EXPECT_EQ(decode(holding(DataType::kInt32, 1, false, true), "INT", {0x0002, 0x0001}), "65538");
    // isSwap: bytes inside each word exchanged (BADC).
    EXPECT_EQ(decode(holding(DataType::kInt32, 1, true, false), "INT", {0x0100, 0x0200}), "65538");
    // both: DCBA.
    EXPECT_EQ(decode(holding(DataType::kInt32, 1, true, true), "INT", {0x0200, 0x0100}), "65538");
    EXPECT_EQ(decode(holding(DataType::kInt16, 1, true), "INT", {0x3412}), "4660");  // 0x1234
    EXPECT_EQ(decode(holding(DataType::kUint32), "INT", {0xFFFF, 0xFFFF}), "4294967295");
    EXPECT_EQ(decode(holding(DataType::kInt32), "INT", {0xFFFF, 0xFFFE}), "-2");
}

TEST(ModbusDecode, Floats) {
    // 21.5f = 0x41AC0000; 0.1f = 0x3DCCCCCD; 1.5 (double) = 0x3FF8000000000000.
    EXPECT_EQ(decode(holding(DataType::kFloat32), "FLOAT", {0x41AC, 0x0000}), "21.5");
    EXPECT_EQ(decode(holding(DataType::kFloat32, 1, false, true), "FLOAT", {0x0000, 0x41AC}),
              "21.5");
    EXPECT_EQ(decode(holding(DataType::kFloat32), "FLOAT", {0x3DCC, 0xCCCD}), "0.1");
    EXPECT_EQ(decode(holding(DataType::kFloat32, 2), "DOUBLE", {0x41AC, 0x0000}), "43");
    EXPECT_EQ(decode(holding(DataType::kFloat64), "DOUBLE", {0x3FF8, 0, 0, 0}), "1.5");
    EXPECT_EQ(decode(holding(DataType::kFloat32), "INT", {0x41AC, 0x0000}), "22");
}

TEST(ModbusDecode, SixtyFourBitIntegersStayExact) {
    EXPECT_EQ(decode(holding(DataType::kUint64), "INT", {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}),
              "18446744073709551615");
    EXPECT_EQ(decode(holding(DataType::kInt64), "INT", {0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}),
              "9223372036854775807");
}

TEST(ModbusDecode, BooleanAndStringProperties) {
    EXPECT_EQ(decode(holding(DataType::kUint16), "BOOLEAN", {0}), "false");
    EXPECT_EQ(decode(holding(DataType::kUint16), "BOOLEAN", {7}), "true");
    EXPECT_EQ(decode(holding(DataType::kInt16), "STRING", {42}), "42");
    VisitorConfig text = holding(DataType::kString);
    text.limit = 3;
    EXPECT_EQ(decode(text, "STRING", {0x4142, 0x4300, 0x0000}), "ABC");
}

TEST(ModbusDecode, BitsFollowPropertyType) {
    EXPECT_EQ(decode_bit(true, prop("BOOLEAN")), "true");
    EXPECT_EQ(decode_bit(false, prop("BOOLEAN")), "false");
    EXPECT_EQ(decode_bit(true, prop("INT")), "1");
    EXPECT_EQ(decode_bit(false, prop("FLOAT")), "0");
}

TEST(ModbusDecode, RejectsShortRepliesAndNaN) {
    auto short_reply = decode_registers(holding(DataType::kInt32), prop("INT"), Regs{1});
    ASSERT_FALSE(short_reply);
    EXPECT_TRUE(short_reply.error().is(errc::parse_error));
    auto nan = decode_registers(holding(DataType::kFloat32), prop("FLOAT"), Regs{0x7FC0, 0});
    ASSERT_FALSE(nan);
    EXPECT_TRUE(nan.error().is(errc::parse_error));
}

TEST(ModbusEncode, IntegersAndScale) {
    EXPECT_EQ(encode(holding(DataType::kInt16), prop("INT"), "42"), Regs{42});
    EXPECT_EQ(encode(holding(DataType::kInt16), prop("INT"), "-1"), Regs{0xFFFF});
    EXPECT_EQ(encode(holding(DataType::kUint16), prop("INT"), "40000"), Regs{40000});
    EXPECT_EQ(encode(holding(DataType::kInt16, 0.1), prop("FLOAT"), "21.5"), Regs{215});
    EXPECT_EQ(encode(holding(DataType::kInt16, 0.1), prop("FLOAT"), " 21 "), Regs{210});
    EXPECT_EQ(encode(holding(DataType::kInt32), prop("INT"), "65538"), (Regs{0x0001, 0x0002}));
    EXPECT_EQ(encode(holding(DataType::kInt32, 1, false, true), prop("INT"), "65538"),
              (Regs{0x0002, 0x0001}));
    EXPECT_EQ(encode(holding(DataType::kInt32, 1, true, true), prop("INT"), "65538"),
              (Regs{0x0200, 0x0100}));
    EXPECT_EQ(encode(holding(DataType::kUint64), prop("INT"), "9223372036854775807"),
              (Regs{0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}));
    EXPECT_EQ(encode(holding(DataType::kUint16), prop("BOOLEAN"), "true"), Regs{1});
}

TEST(ModbusEncode, Floats) {
    EXPECT_EQ(encode(holding(DataType::kFloat32), prop("FLOAT"), "21.5"), (Regs{0x41AC, 0x0000}));
    EXPECT_EQ(encode(holding(DataType::kFloat32, 1, true, false), prop("FLOAT"), "21.5"),
              (Regs{0xAC41, 0x0000}));
    EXPECT_EQ(encode(holding(DataType::kFloat64), prop("DOUBLE"), "1.5"), (Regs{0x3FF8, 0, 0, 0}));
}

TEST(ModbusEncode, RoundTripsThroughDecode) {
    for (bool bs : {false, true}) {
        for (bool rs : {false, true}) {
            auto v = holding(DataType::kFloat32, 0.5, bs, rs);
            EXPECT_EQ(decode(v, "FLOAT", encode(v, prop("FLOAT"), "-12.25")), "-12.25");
            auto i = holding(DataType::kInt64, 1, bs, rs);
            EXPECT_EQ(decode(i, "INT", encode(i, prop("INT"), "-123456789012")), "-123456789012");
        }
    }
    VisitorConfig text = holding(DataType::kString);
    text.limit = 3;
    EXPECT_EQ(encode(text, prop("STRING"), "hey"), (Regs{0x6865, 0x7900, 0x0000}));
    EXPECT_EQ(decode(text, "STRING", encode(text, prop("STRING"), "hello!")), "hello!");
}

TEST(ModbusEncode, RejectsBadTextRangeAndOverflow) {
    struct Case {
        VisitorConfig visitor;
        PropertyConfig property;
        const char* text;
        const char* expect;
    };
    VisitorConfig text = holding(DataType::kString);
    text.limit = 2;
    for (const auto& c : {
             Case{holding(DataType::kInt16), prop("INT"), "4.5", "is not an INT"},
             Case{holding(DataType::kInt16), prop("INT"), "abc", "is not an INT"},
             Case{holding(DataType::kInt16), prop("INT"), "", "is not an INT"},
             Case{holding(DataType::kInt16), prop("FLOAT"), "nan", "is not a number"},
             Case{holding(DataType::kInt16), prop("BOOLEAN"), "yes", "is not a BOOLEAN"},
             Case{holding(DataType::kInt16), prop("INT", 0, 100), "150", "above the maximum 100"},
             Case{holding(DataType::kInt16), prop("INT", 0, 100), "-1", "below the minimum 0"},
             Case{holding(DataType::kInt16), prop("INT"), "40000", "outside int16"},
             Case{holding(DataType::kUint16), prop("INT"), "-1", "outside uint16"},
             Case{holding(DataType::kInt16, 0.1), prop("FLOAT"), "4000", "divided by scale 0.1"},
             Case{holding(DataType::kUint64), prop("INT"), "-5", "outside uint64"},
             Case{holding(DataType::kFloat32), prop("DOUBLE"), "1e300", "float32"},
             Case{text, prop("STRING"), "hello", "longer than the 4 bytes"},
         }) {
        auto r = encode_registers(c.visitor, c.property, c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << c.text;
        EXPECT_NE(r.error().detail.find(c.expect), std::string::npos)
            << c.text << " -> " << r.error().detail;
        EXPECT_NE(r.error().detail.find("property temp"), std::string::npos);
    }
}

TEST(ModbusEncode, Bits) {
    for (auto t : {"true", "True", "TRUE", "t", "1"}) {
        auto b = encode_bit(prop("BOOLEAN"), t);
        ASSERT_TRUE(b) << t;
        EXPECT_TRUE(*b) << t;
    }
    for (auto f : {"false", "False", "0", "f"}) {
        auto b = encode_bit(prop("BOOLEAN"), f);
        ASSERT_TRUE(b) << f;
        EXPECT_FALSE(*b) << f;
    }
    EXPECT_TRUE(*encode_bit(prop("INT"), "1"));
    EXPECT_FALSE(encode_bit(prop("INT"), "2"));
    EXPECT_FALSE(encode_bit(prop("BOOLEAN"), "maybe"));
    EXPECT_FALSE(encode_bit(prop("INT", 0, 0), "1"));  // above maximum 0
}

}  // namespace
}  // namespace kedge::device::modbus
