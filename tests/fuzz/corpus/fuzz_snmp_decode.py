#!/usr/bin/env python3
# Writes the seeds of tests/fuzz/fuzz_snmp_decode.c into tests/fuzz/corpus/fuzz_snmp_decode/:
# BER by hand (the first byte of each is the harness's mode: 0 a PDU, 1 a whole message,
# 2 varbinds built with the API). Run from anywhere: python3 tests/fuzz/corpus/fuzz_snmp_decode.py
import os, struct
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_snmp_decode")

def ln(n):
    if n < 128: return bytes([n])
    if n < 256: return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 255])
def tlv(t, v): return bytes([t]) + ln(len(v)) + v
def integer(n):
    if n == 0: return tlv(0x02, b'\0')
    b = n.to_bytes((n.bit_length() + 8) // 8, 'big', signed=True)
    return tlv(0x02, b)
def uint(t, n):
    b = n.to_bytes((n.bit_length() + 8) // 8 or 1, 'big')
    return tlv(t, b)
def sub(n):
    o = [n & 127]; n >>= 7
    while n: o.append(0x80 | (n & 127)); n >>= 7
    return bytes(reversed(o))
def oidv(ids):
    return b''.join([bytes([40 * ids[0] + ids[1]])] + [sub(i) for i in ids[2:]])
def oid(ids): return tlv(0x06, oidv(ids))
def octets(s): return tlv(0x04, s)
def sysoid(k): return [1, 3, 6, 1, 2, 1, 1, k, 0]
def vb(name, val): return tlv(0x30, oid(name) + val)
def pdu(cmd, vbs, reqid=0x1234, errstat=0, erridx=0):
    return tlv(cmd, integer(reqid) + integer(errstat) + integer(erridx) + tlv(0x30, b''.join(vbs)))
def msg(version, p, community=b'public'):
    return tlv(0x30, integer(version) + octets(community) + p)

good = [vb(sysoid(1), octets(b'Linux r1 6.1.0-13-amd64 #1 SMP x86_64')),
        vb(sysoid(2), oid([1, 3, 6, 1, 4, 1, 8072, 3, 2, 10])),
        vb(sysoid(3), uint(0x43, 8640000)),
        vb(sysoid(4), octets(b'noc@example.net')),
        vb(sysoid(5), octets(b'r1.example.net')),
        vb(sysoid(6), octets(b'rack 4, row 2'))]
exceptions = [vb(sysoid(1), tlv(0x80, b'')), vb(sysoid(2), tlv(0x81, b'')),
              vb(sysoid(3), tlv(0x05, b'')), vb(sysoid(4), tlv(0x82, b'')),
              vb(sysoid(5), octets(b'r1')), vb(sysoid(6), tlv(0x81, b''))]
hostile = [vb(sysoid(5), octets(b'evil\nname"x,y=z\\ \0tail\0\r\n')),
           vb(sysoid(1), octets(b'\xff' * 255 + b'x' * 400)),
           vb(sysoid(2), oid([1, 3] + [4294967295] * 38)),
           vb(sysoid(6), octets(b'a' + b'\x80' * 254)),
           vb(sysoid(4), octets(b'\xc3\xa9' * 200)),
           vb(sysoid(3), uint(0x43, 4294967295))]
wrong = [vb(sysoid(1), oid([1, 3, 6, 1])), vb(sysoid(2), octets(b'.1.3.6.1.4.1.9')),
         vb(sysoid(3), integer(42)), vb(sysoid(4), uint(0x41, 7)),
         vb(sysoid(5), tlv(0x40, b'\x0a\x00\x00\x01')), vb(sysoid(6), integer(-1))]
foreign = [vb([1, 3, 6, 1, 2, 1, 1, 5, 0, 0], octets(b'longer')),
           vb([1, 3, 6, 1, 2, 1, 1, 5, 1], octets(b'instance 1')),
           vb([1, 3, 6, 1, 2, 1, 1, 7, 0], integer(72)),
           vb([1, 3, 6, 1, 2, 1, 2, 1, 0], integer(3))]
report = [vb([1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0], uint(0x41, 3))]

seeds = {
    'm0_pdu_all_six': b'\0' + pdu(0xa2, good),
    'm0_pdu_reversed': b'\0' + pdu(0xa2, list(reversed(good))),
    'm0_pdu_wrong_types': b'\0' + pdu(0xa2, wrong),
    'm0_pdu_report_unknown_user': b'\0' + pdu(0xa8, report),
    'm1_v2c_all_six': b'\1' + msg(1, pdu(0xa2, good)),
    'm1_v1_all_six': b'\1' + msg(0, pdu(0xa2, good)),
    'm1_v2c_exceptions': b'\1' + msg(1, pdu(0xa2, exceptions)),
    'm1_v2c_hostile': b'\1' + msg(1, pdu(0xa2, hostile)),
    'm1_v2c_foreign_oids': b'\1' + msg(1, pdu(0xa2, foreign + good[4:5])),
    'm1_v2c_error_status': b'\1' + msg(1, pdu(0xa2, good, errstat=2, erridx=5)),
}
# varbinds mode: cmd, err, count, alter, at_hi, at_lo, with; per varbind the object
# selector (0..5: sysDescr..sysLocation), the type (index in the harness's table) and
# its value.
def s_vb(sel, text): return bytes([sel, 0, len(text) >> 8, len(text) & 255]) + text
m2 = bytes([2, 0, 0, 6, 0, 0, 0, 0]) + s_vb(0, b'Linux r1') + bytes([1, 1, 4]) + \
     struct.pack('>IIII', 1, 3, 6, 1) + bytes([2, 2]) + struct.pack('>I', 8640000) + \
     s_vb(3, b'noc') + s_vb(4, b'evil\nname"x,y=z\0') + s_vb(5, b'\xff' * 300)
seeds['m2_varbinds_all_six'] = m2
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
    print(name, len(data))
