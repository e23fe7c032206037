"""Word lists of the synthetic bank: names, places, merchants, employers.

Written for this generator: common surnames roughly in the order of their frequency in the
mainland population, everyday given-name characters, real city and district division codes
(GB/T 2260) so that ID numbers agree with the customer's city.
"""

from __future__ import annotations

# the most common surnames cover most of the population; weights fall off like the census
SURNAMES = "".join(
    (
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚",
        "卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤",
    )
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")

GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欢阳建国文博志成康海东晨昊天睿泽轩然"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪琳颖倩洁慧莹晶月红梅兰琴云瑶欣怡佳璐思雨涵萱婉妍悦诗晓丹蕾薇"
GIVEN_NEUTRAL = "子一嘉家佳文晓思雨安新明春秋冬梓若可心乐"

# city -> (district name, GB/T 2260 code) ; city weights roughly follow deposit volumes
CITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "上海": (
        ("黄浦区", "310101"),
        ("徐汇区", "310104"),
        ("长宁区", "310105"),
        ("静安区", "310106"),
        ("浦东新区", "310115"),
        ("闵行区", "310112"),
    ),
    "北京": (
        ("东城区", "110101"),
        ("西城区", "110102"),
        ("朝阳区", "110105"),
        ("海淀区", "110108"),
        ("丰台区", "110106"),
    ),
    "深圳": (
        ("罗湖区", "440303"),
        ("福田区", "440304"),
        ("南山区", "440305"),
        ("宝安区", "440306"),
        ("龙岗区", "440307"),
    ),
    "杭州": (
        ("上城区", "330102"),
        ("拱墅区", "330105"),
        ("西湖区", "330106"),
        ("滨江区", "330108"),
        ("余杭区", "330110"),
    ),
}
CITY_WEIGHTS = (0.34, 0.28, 0.22, 0.16)

# sub-branch names: neighbourhoods and roads of each city
BRANCH_AREAS: dict[str, tuple[str, ...]] = {
    "上海": ("陆家嘴", "外滩", "徐家汇", "静安寺", "虹桥", "张江", "五角场", "世纪公园", "人民广场", "莘庄"),
    "北京": ("国贸", "中关村", "金融街", "望京", "亚运村", "西单", "王府井", "丽泽", "上地", "三元桥"),
    "深圳": ("福田中心", "科技园", "蛇口", "东门", "车公庙", "前海", "宝安中心", "龙华", "华强北", "后海"),
    "杭州": ("钱江新城", "武林", "西溪", "滨江", "黄龙", "湖滨", "未来科技城", "城西", "萧山", "下沙"),
}

ROADS = (
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "长江路",
    "新华路",
    "文化路",
    "光明路",
    "朝阳路",
    "滨河路",
    "学院路",
    "科技路",
    "园林路",
    "复兴路",
    "世纪大道",
)
COMPOUNDS = ("花园", "小区", "新村", "公寓", "家园", "苑", "雅居", "名邸")

EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "outlook.com")

MERCHANTS: dict[str, tuple[str, ...]] = {
    "grocery": ("盒马鲜生", "永辉超市", "华润万家", "联华超市", "物美超市", "全家便利店"),
    "dining": ("美团外卖", "饿了么", "海底捞", "星巴克", "瑞幸咖啡", "肯德基"),
    "digital": ("京东商城", "天猫", "拼多多", "苹果零售店", "小米之家"),
    "travel": ("携程旅行", "中国国航", "东方航空", "铁路12306", "华住酒店"),
    "home": ("宜家家居", "红星美凯龙", "居然之家", "国家电网电费", "燃气公司"),
    "medical": ("市第一人民医院", "华山医院", "老百姓大药房", "益丰大药房"),
    "auto": ("中国石化加油站", "中国石油加油站", "特来电充电", "途虎养车"),
    "education": ("新东方", "学而思", "少儿英语培训中心", "市实验小学", "钢琴培训中心"),
    "baby": ("孩子王", "爱婴室", "贝亲母婴店", "乐友孕婴童", "京东母婴"),
}

EMPLOYERS = (
    "华信科技有限公司",
    "东方电子股份有限公司",
    "长城建设集团有限公司",
    "明远物流有限公司",
    "新天地商贸有限公司",
    "中和医药有限公司",
    "恒通汽车零部件有限公司",
    "市第三中学",
    "市人民医院",
    "区人民政府",
    "远航网络科技有限公司",
    "锦程餐饮管理有限公司",
)

# the first three digits of mainland mobile numbers (13x, 15x, 18x, 19x)
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]

# issuer identification numbers for account/card numbers (debit 19 digits, credit 16)
DEBIT_BIN = "621700"
CREDIT_BIN = "625900"
