"""Name lists for the synthetic register (benchmarks/synthetic_register.py).

One entry per naming tradition: given names by sex, family names, and clan names that
clinics sometimes record in place of the family name. Christian and Muslim given names are
shared across traditions (a Luo woman may be Grace or Aisha), as they are in real registers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tradition:
    name: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    clans: tuple[str, ...]
    towns: tuple[str, ...]


def _t(text: str) -> tuple[str, ...]:
    return tuple(text.split())


CHRISTIAN_FEMALE = _t("Grace Faith Mercy Esther Ruth Mary Elizabeth Sarah Rebecca Joyce "
                      "Margaret Agnes Catherine Lucy Josephine Dorcas Naomi Eunice Rose Janet")
CHRISTIAN_MALE = _t("John Peter Paul James Joseph David Daniel Samuel Stephen Michael "
                    "Emmanuel Francis Patrick George Moses Isaac Simon Charles Benjamin Joshua")
MUSLIM_FEMALE = _t("Aisha Fatuma Khadija Mariam Zainab Halima Amina Hawa Rukia Salma "
                   "Mwanaisha Asha Zuhura Saida Habiba Rehema Hadiza Maimuna Sakina Nuru")
MUSLIM_MALE = _t("Mohammed Ibrahim Yusuf Hassan Hussein Abdullahi Omar Ali Suleiman Ismail "
                 "Musa Abubakar Idris Hamisi Rashid Salim Bakari Athumani Ramadhani Shaban")

TRADITIONS: tuple[Tradition, ...] = (
    Tradition("swahili", _t("Neema Upendo Baraka Zawadi Imani Rehema Tumaini Pendo Furaha Amani"),
              _t("Juma Baraka Hamisi Jabari Tumaini Shujaa Bakari Rajabu Mosi Faraji"),
              _t("Mwinyi Salim Bakari Juma Hamisi Mrisho Kombo Makame Mussa Rashidi Mbaraka "
                 "Athumani Mwalimu Shabani Ngowi"),
              _t("Mzee Mwinyi"), _t("Mombasa Tanga Zanzibar Dar Lamu Malindi Kilifi")),
    Tradition("kikuyu", _t("Wanjiku Wambui Njeri Nyambura Wairimu Wanjiru Wangari Muthoni Njoki "
                           "Wacera Wangui Wamuyu Gathoni Waithira Nduta"),
              _t("Kamau Mwangi Kimani Njoroge Kariuki Githinji Macharia Ngugi Wachira Gitau "
                 "Muriuki Ndungu Kinyua Mugo Waweru"),
              _t("Kamau Mwangi Kimani Njoroge Kariuki Githinji Macharia Ngugi Wachira Gitau "
                 "Muriuki Ndungu Kinyua Mugo Waweru Nganga Maina Karanja"),
              _t("Anjiru Ambui Angare Agaciku Aithaga Ethaga Airimu Aitherandu Aicakamuyu"),
              _t("Nyeri Muranga Kiambu Thika Nyahururu Karatina Limuru")),
    Tradition("luo", _t("Achieng Akinyi Atieno Anyango Awino Adhiambo Apiyo Akoth Auma Aoko "
                        "Nyaboke Aluoch Akello"),
              _t("Otieno Odhiambo Ochieng Onyango Owino Omondi Okoth Ouma Oduor Opiyo Otieno "
                 "Obiero Okello"),
              _t("Otieno Odhiambo Ochieng Onyango Owino Omondi Okoth Ouma Oduor Opiyo Obiero "
                 "Okello Oloo Odera Ogola"),
              _t("Kanyamkago Kanyada Kakello Kasipul"), _t("Kisumu Siaya Homa Migori Bondo Kendu")),
    Tradition("yoruba", _t("Folake Funmilayo Yetunde Bukola Adebola Titilayo Omolara Abimbola "
                           "Oluwakemi Adenike Morenike Temitope Ayodele"),
              _t("Adebayo Oluwaseun Babatunde Olumide Ayodeji Olusegun Adewale Kayode Femi "
                 "Oluwafemi Tunde Gbenga Akinwale"),
              _t("Adeyemi Adebayo Ogunleye Balogun Ogunbiyi Adeleke Oladipo Okonkwo Afolabi "
                 "Akinola Oyelaran Olaniyan Adewumi"),
              _t("Ajanaku Olokun"), _t("Ibadan Abeokuta Oyo Ogbomoso Osogbo Ilorin Akure")),
    Tradition("igbo", _t("Ngozi Chiamaka Adaeze Chinwe Ifeoma Nneka Obiageli Uchenna Amarachi "
                         "Chidinma Ebere Ijeoma"),
              _t("Chinedu Emeka Obinna Ikechukwu Chukwuemeka Nnamdi Uchenna Kelechi Chidi "
                 "Ifeanyi Obiora Ebuka"),
              _t("Okafor Okeke Nwosu Eze Okonkwo Nwachukwu Obi Chukwu Nwankwo Onyeka Ezeh "
                 "Anyanwu Okoro"),
              _t("Umunna Umuofia"), _t("Enugu Onitsha Owerri Aba Nsukka Awka Umuahia")),
    Tradition("hausa", _t("Hadiza Binta Hauwa Jamila Kubra Lami Rakiya Talatu Asabe Ladi "
                          "Zuwaira Hassana"),
              _t("Abdullahi Sani Usman Garba Lawal Aminu Bello Shehu Danjuma Haruna Nasiru "
                 "Yakubu Tanko"),
              _t("Abubakar Bello Musa Ibrahim Garba Lawal Yusuf Danjuma Sani Aliyu Shehu "
                 "Umar Dauda"),
              _t("Fulani Kanuri"), _t("Kano Katsina Zaria Sokoto Kaduna Bauchi Gombe")),
    Tradition("akan", _t("Adwoa Akua Abena Ama Efua Yaa Afua Akosua Esi Adjoa Afia Araba"),
              _t("Kwame Kofi Kwaku Yaw Kojo Kwabena Kwadwo Kwasi Kweku Fiifi Ekow Kobina"),
              _t("Mensah Asante Owusu Boateng Agyemang Osei Appiah Antwi Amoah Darko Ofori "
                 "Acheampong Sarpong Oppong"),
              _t("Asona Aduana Agona Bretuo Oyoko Ekuona"),
              _t("Kumasi Accra Obuasi Sunyani Koforidua Techiman Tema")),
    Tradition("amharic", _t("Tsion Meseret Hiwot Selam Almaz Tigist Rahel Bethlehem Mekdes "
                            "Yeshi Genet Aster Birtukan"),
              _t("Abebe Tesfaye Haile Getachew Dawit Yohannes Solomon Mulugeta Bekele Girma "
                 "Tadesse Alemayehu Kebede"),
              _t("Tesfaye Bekele Tadesse Haile Gebremedhin Woldemariam Alemu Mulugeta Kebede "
                 "Girma Assefa Negash Gebreyes"),
              _t("Amhara Tigre"), _t("Addis Gondar Bahir Dessie Mekelle Hawassa Adama")),
    Tradition("zulu", _t("Thandiwe Nomvula Nokuthula Zanele Nandi Sibongile Lindiwe Ntombi "
                         "Thembi Zodwa Busisiwe Nompumelelo"),
              _t("Sipho Themba Bongani Mandla Sibusiso Thulani Jabulani Lungelo Sandile "
                 "Siyabonga Musa Nkosinathi"),
              _t("Ndlovu Dlamini Nkosi Khumalo Zulu Mkhize Ngcobo Mthembu Buthelezi Cele "
                 "Shabalala Zungu Mahlangu"),
              _t("Gumede Ntuli Mchunu Shezi Madlala"),
              _t("Durban Pietermaritzburg Umlazi Ulundi Newcastle Empangeni Ladysmith")),
    Tradition("xhosa", _t("Nomsa Nosipho Thandeka Ayanda Zintle Siphokazi Nomvuyo Lulama "
                          "Unathi Yonela Asanda Noluthando"),
              _t("Lwazi Xolani Siyabulela Mzwandile Luvuyo Lunga Vuyani Andile Mthunzi "
                 "Zolani Sizwe Thando"),
              _t("Mbeki Sisulu Mandela Nqakula Tshabalala Mabandla Gqirana Ngxola Qwabe "
                 "Mahlathi Ntshona Jonas"),
              _t("Madiba Tshezi Jola Ngqosini Mpondomise"),
              _t("Mthatha Gqeberha Ngqeleni Butterworth Komani Qonce Lusikisiki")),
)

#: Words clinics put before a village or estate name (they carry no evidence of place).
STREET_WORDS = _t("Road Street Avenue Lane Close Plot Estate Village")
PLACES = _t("Kibera Mathare Kawangware Kayole Ruiru Kitengela Ongata Kangemi Githurai Umoja "
            "Mabibo Kariakoo Tandale Ajegunle Mushin Oshodi Nima Madina Kaneshie Sabon "
            "Tudun Bole Kality Merkato Soweto Khayelitsha Gugulethu Inanda Mdantsane Alexandra")
